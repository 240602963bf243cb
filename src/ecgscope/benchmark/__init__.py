"""Benchmark harness: label-fraction subsets, the resumable grid runner, the results table and plots.

>>> from ecgscope.benchmark import GridConfig, run_grid, write_report                 # doctest: +SKIP
>>> run_grid(GridConfig(tasks=["ptbxl17"], models=["ssm_tiny"], out="runs/grid"))    # doctest: +SKIP
>>> write_report("runs/grid")                                                          # doctest: +SKIP
"""

from ecgscope.benchmark.fractions import check_fraction_split, fraction_rows, patient_order
from ecgscope.benchmark.report import load_cells, tidy_table, write_report
from ecgscope.benchmark.runner import (
    DEVICE_PROFILES,
    Cell,
    GridConfig,
    GridRun,
    epochs_for_fraction,
    grid_cells,
    run_grid,
    training_subsets,
)

__all__ = [
    "DEVICE_PROFILES", "Cell", "GridConfig", "GridRun", "check_fraction_split", "epochs_for_fraction",
    "fraction_rows", "grid_cells", "load_cells", "patient_order", "run_grid", "tidy_table", "training_subsets",
    "write_report",
]
