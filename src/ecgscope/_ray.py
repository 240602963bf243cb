"""Joining or starting Ray, for the engines that run on it (``ecgscope.batch``, the server's analysis pool)."""

from __future__ import annotations

import os
from typing import Any

from ecgscope.errors import ECGScopeError


class RayUnavailableError(ECGScopeError):
    code = "ray_unavailable"
    http_status = 503


def connect_ray(address: str | None, num_cpus: int | None = None) -> tuple[Any, bool]:
    """``(ray, started)``: the ``ray`` module connected to ``address`` (a running cluster: ``"auto"``,
    ``"head:6379"``, ``"ray://head:10001"``), or to a Ray instance started here with ``num_cpus`` when ``address``
    is None (``started`` True: the caller shuts it down).  An existing connection of this process is reused."""
    try:
        import ray
    except ImportError:
        raise RayUnavailableError("the Ray engine needs Ray: pip install 'ecgscope[batch]'") from None
    if ray.is_initialized():
        return ray, False
    if address is None:  # a private instance: only this process can reach it
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        ray.init(address=address, num_cpus=None if address else (num_cpus or os.cpu_count()),
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailableError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
    return ray, True
