"""ecgscope: ECG foundation models from research to the bedside and the wrist."""

from ecgscope.errors import ECGScopeError
from ecgscope.io import load_record, save_record
from ecgscope.leads import STANDARD_LEADS
from ecgscope.record import Record

__version__ = "0.1.0"
__all__ = ["ECGScopeError", "Record", "STANDARD_LEADS", "__version__", "load_record", "save_record"]
