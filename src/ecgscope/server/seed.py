"""Demo content for ``make run``: a demo user and a few real example records from the data folder.

Seeded only into an empty database.  The examples go through the same upload path as any user's
files (parsed by the readers, stored content-addressed), so the demo shows the real product.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from ecgscope.io import load_record, save_record
from ecgscope.server.auth import create_user, issue_token, principal_of
from ecgscope.server.context import ServerContext
from ecgscope.server.db import RecordRow, User
from ecgscope.server.services.records import UploadedFile, parse_upload, store_upload

DEMO_USER = "demo"
MITDB_EXCERPT_S = 30.0

# (label, path relative to the data dir, patient id shown in the queue, first 30 s only)
EXAMPLES = (
    ("PTB-XL 12-lead", "ptbxl/records500/00000/00002_hr", "ptbxl-13243", False),
    ("CinC 2017 single lead", "cinc2017/A00006", "cinc2017-A00006", False),
    ("MIT-BIH excerpt", "mitdb/100", "mitdb-100", True),
    # the whole 30 min (ventricular bigeminy): the dashboard's long-recording view analyses it as a Holter
    ("MIT-BIH 30-min recording", "mitdb/119", "mitdb-119", False),
)


def _files_of(base: Path) -> list[UploadedFile]:
    """The files of one WFDB record (header + signal files), as an upload would send them."""
    return [UploadedFile(p.name, p.read_bytes()) for p in sorted(base.parent.glob(base.name + "*"))
            if p.suffix in (".hea", ".dat", ".mat") and p.stem.startswith(base.name)]


def _mitdb_excerpt(base: Path) -> list[UploadedFile]:
    """The first 30 s of a 30-min MIT-BIH record, written as WFDB (a 10-s-style example of a 2-lead record)."""
    rec = load_record(base)
    n = int(MITDB_EXCERPT_S * rec.fs)
    excerpt = rec.replace(signal=rec.signal[:, :n], record_id=f"{base.name}_first{int(MITDB_EXCERPT_S)}s")
    with tempfile.TemporaryDirectory() as tmp:
        hea = save_record(excerpt, Path(tmp) / excerpt.record_id, format="wfdb")
        return [UploadedFile(p.name, p.read_bytes()) for p in sorted(hea.parent.iterdir())]


def demo_token(ctx: ServerContext) -> str:
    """The demo user's token, kept in ``state_dir/demo-token`` (created with the user when missing)."""
    token_file = ctx.settings.state_dir / "demo-token"
    with ctx.db.session() as s:
        user = s.scalar(select(User).where(User.username == DEMO_USER))
        if user is None:
            user = create_user(s, DEMO_USER, role="member", team="demo")
        elif token_file.is_file():
            return token_file.read_text().strip()
        token = issue_token(s, user, name="demo")
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


def seed_examples(ctx: ServerContext, data_dir: Path) -> list[str]:
    """Upload the example records as the demo user when no record is stored yet; returns their ids."""
    with ctx.db.session() as s:
        if (s.scalar(select(func.count()).select_from(RecordRow)) or 0) > 0:
            return []
        user = s.scalar(select(User).where(User.username == DEMO_USER))
        principal = principal_of(user) if user else None
    if principal is None:
        raise RuntimeError("seed_examples needs the demo user: call demo_token() first")
    ids = []
    for _label, rel, patient_id, excerpt in EXAMPLES:
        base = data_dir / rel
        files = _mitdb_excerpt(base) if excerpt else _files_of(base)
        parsed = parse_upload(files, max_bytes=ctx.settings.max_upload_bytes, max_files=ctx.settings.max_upload_files)
        row, _ = store_upload(ctx, principal, parsed, patient_id)
        ids.append(row.id)
    return ids
