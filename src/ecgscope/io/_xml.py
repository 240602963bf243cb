"""XML from other systems, parsed safely: the one parser of the XML ECG readers (aECG, MUSE, Philips).

defusedxml refuses entity declarations and external references (an XML bomb, an XXE attempt) with
``unsafe_xml``; a DOCTYPE line is refused too unless the format's real files carry one (GE MUSE's
``<!DOCTYPE RestingECG SYSTEM "restecg.dtd">``, never fetched).  UTF-16 files (Philips) are re-encoded as UTF-8.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

from ecgscope.errors import RecordFormatError

# the root element, after any XML declaration, comments and processing instructions
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s>/]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _as_utf8(raw: bytes) -> bytes:
    if raw[:2] in _UTF16_BOMS:
        text = raw[: len(raw) // 2 * 2].decode("utf-16", errors="replace")
        return re.sub(r"""(<\?xml[^>]*encoding=)["']utf-16["']""", r'\1"utf-8"', text, count=1,
                      flags=re.I).encode("utf-8")
    return raw


def xml_root_name(head: bytes) -> str | None:
    """The local name of an XML document's root element from its first bytes (None: not XML)."""
    text = _as_utf8(head).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"<"):
        return None
    # skip the declaration, comments, processing instructions and a DOCTYPE (with its internal subset)
    text = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", b"", text, flags=re.S).lstrip()
    m = _ROOT.match(text)
    return m.group(1).decode("ascii", "replace") if m else None


def parse_xml(raw: bytes, source: str, *, allow_doctype: bool = False) -> Element:
    """The document's root element, or a :class:`RecordFormatError` naming what was refused."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        return SafeET.fromstring(_as_utf8(raw), forbid_dtd=not allow_doctype, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as exc:
        what = "an entity declaration or external reference" + ("" if allow_doctype else ", or a DTD")
        raise RecordFormatError(f"XML refused for safety ({type(exc).__name__}: {what}; an ECG needs none)",
                                source=source, code="unsafe_xml") from None
    except (ParseError, UnicodeDecodeError) as exc:
        raise RecordFormatError(f"invalid XML: {exc}", source=source, code="bad_xml") from None
