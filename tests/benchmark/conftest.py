"""Benchmark tests: one torch thread per xdist worker (the grid runs real, tiny training)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs with one torch thread (the root conftest's fixture)."""
