"""Where input comes from: size limits, safe staging of uploaded bytes, and format sniffing."""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from ecgscope.errors import FileTooLargeError, MissingInputError, RecordFormatError, UnsupportedFormatError

DEFAULT_MAX_BYTES = 512 * 1024**2  # a 24-h 12-lead Holter at 500 Hz in 16-bit is ~1 GB; refuse well before 2 GB

FORMATS = ("wfdb", "mat", "csv", "json", "edf", "npy", "npz", "zip", "aecg", "dicom", "muse", "philips", "scp")
# the XML ECGs read, by root element
XML_FORMATS = {"AnnotatedECG": "aecg", "RestingECG": "muse", "restingecgdata": "philips"}
_EXT = {
    ".hea": "wfdb",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".edf": "edf",
    ".bdf": "edf",
    ".npy": "npy",
    ".npz": "npz",
    ".zip": "zip",
    ".mat": "mat",
    ".dat": "wfdb",
    ".xml": "xml",  # any XML ECG: the content (its root element) says which
    ".dcm": "dicom",
    ".scp": "scp",
}
# the files a record is read from by their own name (a .dat belongs to its .hea): what a directory walk takes
RECORD_FILE_EXTENSIONS = frozenset(_EXT) - {".dat"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_WFDB_HEADER_LINE = re.compile(r"^\s*[^\s#]+(/\d+)?\s+\d+(\s+[0-9.eE+\-]+(/[0-9.eE+\-]+)?(\([0-9.eE+\-]+\))?)?(\s+\d+)?")


def max_bytes_default() -> int:
    env = os.environ.get("ECGSCOPE_MAX_FILE_BYTES")
    return int(env) if env else DEFAULT_MAX_BYTES


def check_size(path: Path, max_bytes: int) -> None:
    """Refuse a file by its size on disk, before reading any of it."""
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLargeError(
            f"file is {size / 1024**2:.1f} MiB; the limit is {max_bytes / 1024**2:.0f} MiB "
            "(set ECGSCOPE_MAX_FILE_BYTES or max_bytes to raise it)",
            source=str(path),
        )
    if size == 0:
        raise RecordFormatError("file is empty (0 bytes)", source=str(path), code="empty_file")


def source_bytes(data: str | os.PathLike | bytes, source: str | None, default: str) -> tuple[bytes, str]:
    """The bytes of a reader's input (a path or bytes) and the name its messages give it."""
    if isinstance(data, (str, os.PathLike)):
        return Path(data).read_bytes(), source or str(data)
    return bytes(data), source or default


def safe_name(name: str) -> str:
    """A file name that cannot escape a directory: the basename with odd characters replaced."""
    base = os.path.basename(str(name).replace("\\", "/"))
    base = _SAFE_NAME.sub("_", base).lstrip(".")
    return base or "upload"


def sniff_bytes(head: bytes) -> str | None:
    """Guess a format from the first bytes of a file; ``None`` when nothing matches."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 text: only XML ECGs come so
        return _xml_format(head)
    if len(head) >= 22 and head[8:10] == b"\x00\x00" and head[16:22] == b"SCPECG":  # SCP-ECG's section 0 header
        return "scp"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"  # npz is a zip too; the caller refines by member names
    if head.startswith(b"MATLAB"):
        return "mat"
    if len(head) >= 8 and head[:8] in (b"0       ", b"\xffBIOSEMI"):
        return "edf"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character may be cut at the end of the sample
        try:
            text = head[:-4].decode("utf-8")
        except UnicodeDecodeError:
            return None
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        return "json"
    if stripped.startswith("<"):  # XML: the dialects read by their root element; any other is named, never CSV
        return _xml_format(head)
    first = next((ln for ln in stripped.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if first and _WFDB_HEADER_LINE.match(first) and "," not in first and len(first.split()) <= 8:
        tokens = first.split()
        if len(tokens) >= 2 and tokens[1].isdigit() and not tokens[0].replace(".", "").lstrip("-").isdigit():
            return "wfdb"
    if "\x00" in text:
        return None
    return "csv"


def _xml_format(head: bytes) -> str:
    """The XML ECG format of a document by its root element, or ``"xml"`` for a dialect not read."""
    from ecgscope.io._xml import xml_root_name

    return XML_FORMATS.get(xml_root_name(head) or "", "xml")


def unsupported_xml(head: bytes, source: str) -> RecordFormatError:
    """The error for XML that is none of the XML ECGs read (or for a .xml file that is not XML)."""
    from ecgscope.io._xml import xml_root_name

    root = xml_root_name(head)
    what = f"an XML document with root <{root}>" if root else "not XML"
    known = ", ".join(f"<{r}>" for r in XML_FORMATS)
    return RecordFormatError(f"the XML ECGs read are HL7 aECG, GE MUSE and Philips (root {known}); this file is "
                             f"{what}",
                             source=source, code="unsupported_xml")


def is_npz(data: bytes | Path) -> bool:
    try:
        with zipfile.ZipFile(BytesIO(data) if isinstance(data, bytes) else data) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def detect_format(path: Path) -> str:
    """The format of a file on disk, from its extension checked against its content."""
    ext = path.suffix.lower()
    if ext == "" and path.with_suffix(".hea").exists():
        return "wfdb"
    if ext in (".mat", ".dat") and path.with_suffix(".hea").exists():
        return "wfdb"
    with open(path, "rb") as fh:
        head = fh.read(4096)
    sniffed = sniff_bytes(head)
    if sniffed == "zip" and is_npz(path):
        sniffed = "npz"
    by_ext = _EXT.get(ext)
    if by_ext == "mat" and sniffed in (None, "csv"):
        return "mat"  # MATLAB v4 files have no magic number
    if by_ext == "wfdb" and ext == ".dat":
        raise MissingInputError(
            f"a .dat signal file needs its header {path.with_suffix('.hea').name} beside it", source=str(path)
        )
    if sniffed == "xml":
        raise unsupported_xml(head, str(path))
    if by_ext is not None:
        text_formats = {"csv", "json", "wfdb"}
        if by_ext in text_formats and sniffed not in text_formats:
            raise RecordFormatError(
                f"file has a {ext} extension but its content is binary, not {by_ext.upper()} text",
                source=str(path),
                code="content_mismatch",
            )
        if by_ext == "json" and sniffed != "json":
            raise RecordFormatError(
                "file has a .json extension but does not start with '{' or '['", source=str(path), code="bad_json"
            )
        if by_ext == "xml":  # whichever XML ECG the content is (other XML was refused above)
            if sniffed not in XML_FORMATS.values():
                raise unsupported_xml(head, str(path))
            return sniffed
        if by_ext in ("edf", "npy", "zip", "npz", "dicom") and sniffed not in (by_ext, "zip" if by_ext == "npz" else by_ext):
            raise RecordFormatError(
                f"file has a {ext} extension but its content is not {by_ext.upper()} "
                f"(it looks like {sniffed or 'unknown binary data'})",
                source=str(path),
                code="content_mismatch",
            )
        return by_ext  # .scp included: an SCP-ECG 1.x file may lack the "SCPECG" mark; its reader checks the rest
    if sniffed is None:
        raise UnsupportedFormatError(
            f"cannot tell the format of {path.name!r} from its extension or content; "
            f"supported: {', '.join(FORMATS)}",
            source=str(path),
        )
    return sniffed


def resolve_path(path: str | os.PathLike) -> Path:
    """Accept a WFDB base name (``…/00002_hr``) as well as a real file."""
    p = Path(path)
    if p.is_dir():
        raise UnsupportedFormatError("is a directory, not a record file", source=str(p))
    if p.exists():
        return p
    if p.with_name(p.name + ".hea").exists():
        return p.with_name(p.name + ".hea")
    raise MissingInputError("no such file", source=str(p))


@contextmanager
def staged_files(files: Mapping[str, bytes]):
    """Write uploaded ``{name: bytes}`` into a private temporary directory; yield that directory.

    Names are reduced to safe basenames, so nothing a user named can escape the directory.
    """
    with tempfile.TemporaryDirectory(prefix="ecgscope-") as tmp:
        d = Path(tmp)
        for name, data in files.items():
            (d / safe_name(name)).write_bytes(data)
        yield d


def unzip_members(data: bytes, max_bytes: int, source: str) -> dict[str, bytes]:
    """Members of a zip upload as ``{basename: bytes}``, refusing zip bombs and nested folders' tricks."""
    try:
        zf = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise RecordFormatError(f"not a readable zip archive ({exc})", source=source, code="bad_zip") from None
    out: dict[str, bytes] = {}
    total = 0
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            base = os.path.basename(info.filename)
            if not base or base.startswith(".") or "__MACOSX" in info.filename:
                continue
            total += info.file_size
            if total > max_bytes:
                raise FileTooLargeError(
                    f"zip expands to more than {max_bytes / 1024**2:.0f} MiB", source=source
                )
            try:
                out[safe_name(base)] = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise RecordFormatError(
                    f"zip member {base!r} is corrupt ({exc})", source=source, code="bad_zip"
                ) from None
    if not out:
        raise RecordFormatError("zip archive contains no files", source=source, code="empty_zip")
    return out
