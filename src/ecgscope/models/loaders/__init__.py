"""Converters from published checkpoint layouts to ecgscope module names."""

from ecgscope.models.loaders.fairseq_signals import PRETRAINING_ONLY, convert_fairseq_signals
from ecgscope.models.loaders.stmem import DECODER_ONLY, convert_stmem

__all__ = ["DECODER_ONLY", "PRETRAINING_ONLY", "convert_fairseq_signals", "convert_stmem"]
