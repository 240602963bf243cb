"""Lead names: the standard 12, their aliases, and normalisation.

Different sources spell leads differently (PTB-XL ``AVR``, LUDB ``avr``, MIT-BIH ``MLII``, AliveCor
``ECG``, EDF ``ECG I`` / ``Lead I``).  Everything inside ecgscope uses the standard spelling below.
A name we cannot map is kept unchanged and reported as unknown, never silently dropped or renamed.
"""

from __future__ import annotations

import re

STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
LIMB_LEADS: tuple[str, ...] = STANDARD_LEADS[:6]

# Single-lead sources whose channel is lead-I-like (handheld devices: left/right hand electrodes).
_ALIASES: dict[str, str] = {
    "ecg": "I",
    "ecg1": "I",
    "mli": "I",
    "mlii": "II",
    "mliii": "III",
    "ml2": "II",
    "ml ii": "II",
    "d1": "I",
    "d2": "II",
    "d3": "III",
    "di": "I",
    "dii": "II",
    "diii": "III",
}
_STANDARD_BY_LOWER = {name.lower(): name for name in STANDARD_LEADS}
_PREFIX = re.compile(r"^(?:ecg|lead|ableitung|ekg)[\s_\-:]*", re.IGNORECASE)


def normalize_lead_name(name: str) -> tuple[str, bool]:
    """Map one lead name to its standard spelling.

    Returns ``(name, known)``.  Unknown names come back stripped but otherwise unchanged, with
    ``known=False``.

    Examples
    --------
    >>> normalize_lead_name("AVR")
    ('aVR', True)
    >>> normalize_lead_name("MLII")
    ('II', True)
    >>> normalize_lead_name("Lead I")
    ('I', True)
    >>> normalize_lead_name("CM5")
    ('CM5', False)
    """
    raw = str(name).strip()
    key = raw.lower()
    if key in _STANDARD_BY_LOWER:
        return _STANDARD_BY_LOWER[key], True
    if key in _ALIASES:
        return _ALIASES[key], True
    stripped = _PREFIX.sub("", raw).strip()
    if stripped and stripped.lower() != key:
        skey = stripped.lower()
        if skey in _STANDARD_BY_LOWER:
            return _STANDARD_BY_LOWER[skey], True
        if skey in _ALIASES:
            return _ALIASES[skey], True
    return raw, False


def normalize_lead_names(names: list[str] | tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Normalise a list of lead names; returns ``(names, unknown_names)``."""
    out: list[str] = []
    unknown: list[str] = []
    for n in names:
        std, known = normalize_lead_name(n)
        out.append(std)
        if not known:
            unknown.append(std)
    return tuple(out), tuple(unknown)


def parse_lead_list(text: str) -> tuple[str, ...]:
    """Parse a free-text lead list such as PTB-XL's ``" , I-V1,  "`` or ``"II,III,AVF"``.

    Ranges follow the standard order (``I-AVF`` is the six limb leads); ``alles`` ("all" in the
    PTB-XL annotators' German) means all twelve.  Fragments that name no lead are ignored.

    >>> parse_lead_list(" , I-V1,  ")
    ('I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1')
    >>> parse_lead_list("II,III,AVF")
    ('II', 'III', 'aVF')
    """
    if text is None:
        return ()
    found: list[str] = []
    for part in re.split(r"[,;\s]+", str(text)):
        part = part.strip().strip("?").strip()
        if not part:
            continue
        if part.lower() in ("alles", "all"):
            return STANDARD_LEADS
        if "-" in part:
            a, _, b = part.partition("-")
            sa, ka = normalize_lead_name(a)
            sb, kb = normalize_lead_name(b)
            if ka and kb and sa in STANDARD_LEADS and sb in STANDARD_LEADS:
                i, j = STANDARD_LEADS.index(sa), STANDARD_LEADS.index(sb)
                if i > j:
                    i, j = j, i
                found.extend(STANDARD_LEADS[i : j + 1])
            continue
        std, known = normalize_lead_name(part)
        if known and std in STANDARD_LEADS:
            found.append(std)
    return tuple(dict.fromkeys(found))


# Einthoven's and Goldberger's relations: every limb lead from leads I and II
_FROM_I_AND_II = {"III": lambda i, ii: ii - i, "aVR": lambda i, ii: -(i + ii) / 2, "aVL": lambda i, ii: i - ii / 2,
                  "aVF": lambda i, ii: ii - i / 2}


def derive_limb_leads(leads: dict) -> list[str]:
    """Add the limb leads a cart did not store (III, aVR, aVL, aVF) to ``leads`` from its I and II, in place.

    Carts that store the eight independent leads (I, II, V1-V6; GE MUSE, many SCP-ECG files) leave the other four
    to the reader.  Returns the names added (none when I or II is missing).

    Examples
    --------
    >>> import numpy as np
    >>> leads = {"I": np.array([1.0]), "II": np.array([3.0])}
    >>> derive_limb_leads(leads), float(leads["III"][0]), float(leads["aVR"][0])
    (['III', 'aVR', 'aVL', 'aVF'], 2.0, -2.0)
    """
    if "I" not in leads or "II" not in leads:
        return []
    added = [name for name in _FROM_I_AND_II if name not in leads]
    for name in added:
        leads[name] = _FROM_I_AND_II[name](leads["I"], leads["II"])
    return added
