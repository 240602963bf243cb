"""Shipped model packages and analyzers, loaded once per test session."""

from __future__ import annotations

import pytest

from ecgscope.inference import Analyzer


@pytest.fixture(scope="session")
def analyzers():
    cache: dict[tuple[str, str], Analyzer] = {}

    def get(name: str, backend: str = "torch", **kw) -> Analyzer:
        key = (name, backend, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = Analyzer.from_pretrained(name, backend=backend, **kw)
        return cache[key]

    return get
