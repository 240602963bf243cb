"""Putting a record's leads where a model expects them."""

from __future__ import annotations

import numpy as np

from ecgscope.errors import ContractError
from ecgscope.leads import STANDARD_LEADS, normalize_lead_name
from ecgscope.record import Record

MISSING_LEAD_POLICIES = ("error", "zeros")


def to_lead_layout(
    record: Record, leads: tuple[str, ...] = STANDARD_LEADS, missing: str = "error"
) -> tuple[Record, tuple[str, ...]]:
    """Re-order ``record`` to ``leads``; returns ``(record, missing_leads)``.

    ``missing="error"`` refuses a record that lacks any of ``leads`` (naming them);
    ``missing="zeros"`` fills absent leads with zeros and reports them.
    Extra leads are dropped.
    """
    if missing not in MISSING_LEAD_POLICIES:
        raise ValueError(f"unknown missing-lead policy {missing!r}; valid: {', '.join(MISSING_LEAD_POLICIES)}")
    wanted = tuple(normalize_lead_name(n)[0] for n in leads)
    absent = tuple(n for n in wanted if n not in record.leads)
    if absent and missing == "error":
        raise ContractError(
            f"record lacks leads {list(absent)} (it has {list(record.leads)}); the model needs {list(wanted)}",
            code="missing_leads",
        )
    if not absent and record.leads == wanted:
        return record, ()
    out = np.zeros((len(wanted), record.n_samples), dtype=np.float32)
    for i, name in enumerate(wanted):
        if name in record.leads:
            out[i] = record.signal[record.leads.index(name)]
    present = [n for n in wanted if n in record.leads]
    if not present:
        raise ContractError(f"record has none of the leads {list(wanted)} (it has {list(record.leads)})",
                            code="missing_leads")
    meta = dict(record.metadata, missing_leads=list(absent)) if absent else record.metadata
    return record.replace(signal=out, leads=wanted, gain=None, metadata=meta), absent


def duplicate_single_lead(record: Record, lead: str = "I", n_channels: int = 12) -> Record:
    """Place one lead in all ``n_channels`` channels and flag the record ``single_lead``.

    ``lead`` is taken from the record when it has it; a one-lead record whose lead has another
    name (a wearable's ``ECG`` channel maps to ``I`` already) is used as is, and the lead actually
    used is stored in ``metadata["single_lead_source"]``.  The channels are named after the
    standard 12 so downstream code sees the layout the model was trained on.
    """
    std, _ = normalize_lead_name(lead)
    if std in record.leads:
        source = std
    elif record.n_leads == 1:
        source = record.leads[0]
    else:
        raise ContractError(
            f"single-lead input needs lead {std} (or a one-lead record); record has {list(record.leads)}",
            code="missing_leads",
        )
    x = record.signal[record.leads.index(source)]
    names = STANDARD_LEADS if n_channels == 12 else tuple(f"{source}_{i}" for i in range(n_channels))
    return record.replace(
        signal=np.repeat(x[None, :], n_channels, axis=0),
        leads=names,
        gain=None,
        single_lead=True,
        metadata=dict(record.metadata, single_lead_source=source),
    )
