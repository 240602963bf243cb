"""Batch analysis of ECG archives: one Parquet row per record, resumable, on this machine or a Ray cluster.

``run_batch`` (and ``ecgscope batch``) reads every record the inputs name through the readers of
:mod:`ecgscope.io`, analyses it as ``ecgscope analyze`` does (:mod:`ecgscope.inference`), and commits the rows in
atomic Parquet shards; the columns are :data:`~ecgscope.batch.schema.COLUMNS` (docs/batch.md).  This package
calls the inference API only: it never imports the server or the CLI.
"""

from ecgscope.batch.engines import ENGINES, LocalEngine, RayEngine, make_engine
from ecgscope.batch.inputs import BatchInput, BatchInputError, collect_inputs
from ecgscope.batch.run import BatchSummary, run_batch, summary_text
from ecgscope.batch.schema import BATCH_SCHEMA_VERSION, COLUMNS, PROB_COLUMNS, batch_schema, label_column
from ecgscope.batch.store import BatchOutputError, ShardStore, read_batch
from ecgscope.batch.worker import BatchOptions

__all__ = ["BATCH_SCHEMA_VERSION", "COLUMNS", "ENGINES", "PROB_COLUMNS", "BatchInput", "BatchInputError", "BatchOptions",
           "BatchOutputError", "BatchSummary", "LocalEngine", "RayEngine", "ShardStore", "batch_schema",
           "collect_inputs", "label_column", "make_engine", "read_batch", "run_batch", "summary_text"]
