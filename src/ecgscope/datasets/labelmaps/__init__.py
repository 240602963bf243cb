"""Label-map data files (JSON), loaded by :mod:`ecgscope.datasets.labelmap`."""
