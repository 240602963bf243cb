"""Tasks as data: dataset, labels, input (leads + window) and split of each supervised task.

>>> from ecgscope.tasks import get_task
>>> get_task("ptbxl17").dataset
'ptbxl100'
"""

from ecgscope.tasks import builtin  # noqa: F401  (registers the shipped tasks)
from ecgscope.tasks._base import (
    INPUTS,
    TASKS,
    InputSpec,
    Task,
    get_task,
    input_spec,
    list_tasks,
    register_task,
)

__all__ = ["INPUTS", "TASKS", "InputSpec", "Task", "get_task", "input_spec", "list_tasks", "register_task"]
