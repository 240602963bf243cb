"""Server settings, read once from ``ECGSCOPE_*`` environment variables.

Everything the server writes lives under one state directory (``ECGSCOPE_STATE_DIR``, default
``./var``): the SQLite database and the content-addressed file store.  A deployment points
``ECGSCOPE_DATABASE_URL`` at PostgreSQL (``postgresql+psycopg://user:pass@host/db``) instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from ecgscope.errors import ECGScopeError

ENV_PREFIX = "ECGSCOPE_"
DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024**2  # a 10-min 12-lead recording at 500 Hz in 16 bit is ~7 MB
# bytes of multipart framing (boundaries, part headers) allowed on top of the file bytes
MULTIPART_OVERHEAD_BYTES = 64 * 1024
ANALYSIS_BACKENDS = ("torch", "onnx", "onnx-int8")
ANALYSIS_ENGINES = ("processes", "ray")
# ONNX Runtime: 13-17 % less time per 10-s 12-lead analysis than PyTorch in the server (paired, interleaved
# runs: benchmarks/server_load.py --compare-backends; docs/server.md); saliency runs on PyTorch either way
DEFAULT_ANALYSIS_BACKEND = "onnx"


def _cpus() -> int:
    return os.cpu_count() or 2


# each analysis worker process holds the models (~0.4 GB with ONNX Runtime, ~0.8 GB with PyTorch):
# one per CPU, but not 64 of them on a large host unless asked for
MAX_DEFAULT_ANALYSIS_PROCESSES = 8


def _default_analysis_processes() -> int:
    return min(_cpus(), MAX_DEFAULT_ANALYSIS_PROCESSES)


def _default_web_dist() -> Path:
    """``web/dist`` of the source checkout this package is installed from (editable install)."""
    return Path(__file__).resolve().parents[3] / "web" / "dist"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(ENV_PREFIX + name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ECGScopeError(f"${ENV_PREFIX}{name} must be an integer; got {raw!r}", code="bad_setting") from None


@dataclass(frozen=True)
class Settings:
    """Server configuration.

    Parameters
    ----------
    state_dir : Path
        Root of everything the server writes (``ECGSCOPE_STATE_DIR``, default ``./var``).
    database_url : str
        SQLAlchemy URL (``ECGSCOPE_DATABASE_URL``); default a SQLite file in ``state_dir``.
    storage_dir : Path
        Content-addressed file store (``ECGSCOPE_STORAGE_DIR``, default ``state_dir/storage``).
    max_upload_bytes : int
        Largest accepted upload, all files together (``ECGSCOPE_MAX_UPLOAD_BYTES``, default 64 MiB).
    max_upload_files : int
        Most files in one upload (``ECGSCOPE_MAX_UPLOAD_FILES``, default 8).
    cors_origins : tuple of str
        Origins allowed to call the API from a browser (``ECGSCOPE_CORS_ORIGINS``, comma
        separated); empty (the default) means same-origin only.
    workers : int
        Threads that run analyses and render reports, and as many again that parse and store uploads
        (``ECGSCOPE_WORKERS``, default the number of CPUs).
    web_dist : Path
        The built dashboard served at ``/`` (``ECGSCOPE_WEB_DIST``, default ``web/dist``).
    analysis_backend : {"torch", "onnx", "onnx-int8"}
        Where the models run (``ECGSCOPE_ANALYSIS_BACKEND``, default ``onnx``: faster per analysis).
        Saliency (``explain``) always runs on PyTorch: it needs gradients.
    analysis_threads : int
        Intra-op threads of one analysis (``ECGSCOPE_ANALYSIS_THREADS``); default the CPUs divided
        by ``workers``, so concurrent analyses do not oversubscribe the cores.
    analysis_processes : int
        Worker processes that run the analyses (``ECGSCOPE_ANALYSIS_PROCESSES``, default the number of
        CPUs, at most 8: each holds the models, ~0.4 GB; see :mod:`ecgscope.server.engine_pool`).
        0 runs them in the server process's threads, where half of each analysis's work holds the
        interpreter lock: one core's worth of analyses.
    analysis_engine : {"processes", "ray"}
        Where those workers run (``ECGSCOPE_ANALYSIS_ENGINE``): worker processes on this machine, or
        ``analysis_processes`` Ray actors on the cluster at ``ray_address`` (``ECGSCOPE_RAY_ADDRESS``; empty starts
        a Ray instance on this machine), so analysis capacity grows with the cluster's nodes.
    ray_address : str
    """

    state_dir: Path = Path("var")
    database_url: str = ""
    storage_dir: Path = Path("")
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_upload_files: int = 8
    cors_origins: tuple[str, ...] = ()
    workers: int = field(default_factory=_cpus)
    web_dist: Path = field(default_factory=_default_web_dist)
    analysis_backend: str = DEFAULT_ANALYSIS_BACKEND
    analysis_threads: int = 0  # 0: cpus // workers (at least 1)
    analysis_processes: int = field(default_factory=_default_analysis_processes)
    analysis_engine: str = "processes"
    ray_address: str = ""

    def __post_init__(self) -> None:
        state = Path(self.state_dir).expanduser().resolve()
        object.__setattr__(self, "state_dir", state)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{state / 'ecgscope.db'}")
        storage = Path(self.storage_dir) if str(self.storage_dir) not in ("", ".") else state / "storage"
        object.__setattr__(self, "storage_dir", storage.expanduser().resolve())
        if self.max_upload_bytes <= 0:
            raise ECGScopeError(f"max_upload_bytes must be positive; got {self.max_upload_bytes}", code="bad_setting")
        if self.workers <= 0:
            raise ECGScopeError(f"workers must be positive; got {self.workers}", code="bad_setting")
        if self.analysis_backend not in ANALYSIS_BACKENDS:
            raise ECGScopeError(f"analysis_backend must be one of {', '.join(ANALYSIS_BACKENDS)}; "
                                f"got {self.analysis_backend!r}", code="bad_setting")
        if self.analysis_threads < 0:
            raise ECGScopeError(f"analysis_threads must be >= 0; got {self.analysis_threads}", code="bad_setting")
        if self.analysis_processes < 0:
            raise ECGScopeError(f"analysis_processes must be >= 0; got {self.analysis_processes}",
                                code="bad_setting")
        if self.analysis_engine not in ANALYSIS_ENGINES:
            raise ECGScopeError(f"analysis_engine must be one of {', '.join(ANALYSIS_ENGINES)}; "
                                f"got {self.analysis_engine!r}", code="bad_setting")
        if self.analysis_threads == 0:
            object.__setattr__(self, "analysis_threads", max(1, _cpus() // self.workers))

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Settings from ``ECGSCOPE_*`` variables; keyword arguments (CLI flags) win."""
        origins = tuple(o.strip() for o in (_env("CORS_ORIGINS") or "").split(",") if o.strip())
        base = cls(
            state_dir=Path(_env("STATE_DIR", "var")),
            database_url=_env("DATABASE_URL", "") or "",
            storage_dir=Path(_env("STORAGE_DIR", "") or ""),
            max_upload_bytes=_env_int("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
            max_upload_files=_env_int("MAX_UPLOAD_FILES", 8),
            cors_origins=origins,
            workers=_env_int("WORKERS", _cpus()),
            web_dist=Path(_env("WEB_DIST") or _default_web_dist()),
            analysis_backend=(_env("ANALYSIS_BACKEND") or DEFAULT_ANALYSIS_BACKEND).lower(),
            analysis_threads=_env_int("ANALYSIS_THREADS", 0),
            analysis_processes=_env_int("ANALYSIS_PROCESSES", _default_analysis_processes()),
            analysis_engine=(_env("ANALYSIS_ENGINE") or "processes").lower(),
            ray_address=_env("RAY_ADDRESS", "") or "",
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return base
        if "state_dir" in given:
            # derived paths follow a new state dir unless they were set explicitly
            if not _env("DATABASE_URL") and "database_url" not in given:
                given["database_url"] = ""
            if not _env("STORAGE_DIR") and "storage_dir" not in given:
                given["storage_dir"] = Path("")
        if "workers" in given and not _env("ANALYSIS_THREADS") and "analysis_threads" not in given:
            given["analysis_threads"] = 0  # follows the new worker count
        return replace(base, **given)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
