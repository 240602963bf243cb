"""Content-addressed file store: every uploaded file is kept under the sha256 of its bytes.

A blob is written to a temporary file in the store's own ``tmp/`` folder, flushed to disk, then
renamed into place (``os.replace`` is atomic on one file system), so a blob that exists is always
complete.  The database row that refers to a blob is committed only after the blob is durable;
a crash in between leaves an unreferenced blob, never a row without its file, and
:meth:`BlobStore.sweep` removes such leftovers at start-up.

File names on disk are only ever hex digests: nothing a user typed becomes part of a path.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from ecgscope.errors import ECGScopeError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BlobCorruptError(ECGScopeError):
    """A stored file no longer matches its digest (disk corruption or tampering)."""

    code = "storage_corrupt"
    http_status = 500


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Blobs under ``root/ab/cdef…`` (two-level fan-out keeps folders small)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        # held while blobs are written and their rows committed, and while a delete removes
        # unreferenced blobs: a concurrent upload of the same bytes can never lose its file
        self.lock = threading.RLock()

    def path(self, digest: str) -> Path:
        if not _HEX64.match(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        """Store ``data``; returns its sha256.  Idempotent: existing blobs are not rewritten."""
        digest = sha256_hex(data)
        final = self.path(digest)
        if final.exists():
            return digest
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return digest

    def get(self, digest: str) -> bytes:
        """The blob's bytes, checked against its digest."""
        p = self.path(digest)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise BlobCorruptError(f"stored file {digest[:12]}… is missing", code="storage_missing") from None
        if sha256_hex(data) != digest:
            raise BlobCorruptError(f"stored file {digest[:12]}… does not match its sha256")
        return data

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def digests(self) -> Iterable[str]:
        for sub in self.root.iterdir():
            if sub.is_dir() and len(sub.name) == 2 and sub.name != "tmp":
                for f in sub.iterdir():
                    name = sub.name + f.name
                    if _HEX64.match(name):
                        yield name

    def sweep(self, referenced: set[str], min_age_s: float = 0.0) -> dict[str, int]:
        """Remove temporary files and blobs no row refers to.

        Only files older than ``min_age_s`` go, so another server process sharing the store can
        never lose a blob it wrote a moment ago and has not committed yet.
        """
        cutoff = time.time() - min_age_s
        removed_tmp = 0
        for f in self.tmp.iterdir():
            if f.stat().st_mtime <= cutoff:
                f.unlink(missing_ok=True)
                removed_tmp += 1
        orphans = [d for d in self.digests() if d not in referenced and self.path(d).stat().st_mtime <= cutoff]
        for d in orphans:
            self.delete(d)
        return {"temporary": removed_tmp, "orphans": len(orphans)}


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (POSIX: the directory entry must be flushed too)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
