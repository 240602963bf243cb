"""Model tests: small inputs, tiny configs where the architecture allows, fixed seeds."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _shared_numba_cache(pytestconfig):
    """MiniRocket's numba code is cached in pytest's cache folder: compiled once (~20 s), reused by
    every xdist worker and later runs, and never written into the user's ecgscope cache."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        os.environ["NUMBA_CACHE_DIR"] = str(pytestconfig.cache.mkdir("numba"))


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tests run two to a machine under xdist: one torch thread each (the root conftest's fixture)."""
