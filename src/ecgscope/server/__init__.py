"""The ecgscope server: FastAPI API, stored records, analyses, reports and the dashboard.

>>> from ecgscope.server import Settings, create_app  # doctest: +SKIP
>>> app = create_app(Settings(state_dir="var"))         # doctest: +SKIP
"""

from ecgscope.server.app import create_app
from ecgscope.server.settings import Settings

__all__ = ["Settings", "create_app"]
