"""Plausibility rules on label combinations, applied after calibration and thresholds (DESIGN §3).

The rule set is data: clinical constraints given up front, plus rules learned from label co-occurrence
in the training labels, stored (with the evidence for each rule) and versioned with the model.

Rule kinds:

``exclusive`` (a, b)
    Both cannot hold.  When both are positive, the one further above its threshold (in logit units) is
    kept and the other is suppressed, with the reason.
``rarely_together`` (a, b)
    Clinically unusual together; behaves like ``exclusive`` only when the training labels agree (their
    co-occurrence rate, both / min(a, b), is at most ``max_rare_rate``), otherwise it stays inactive and
    the result keeps both.
``implies`` (a -> b)
    ``a`` is a kind of ``b``.  When ``a`` is positive and ``b`` is not, ``b``'s probability is raised to
    ``a``'s and ``b`` becomes positive (reported as an adjustment): probabilities stay consistent with the
    label hierarchy.

The quality label ("Poor data quality") above its threshold marks the whole result unreliable; it never
hides the other labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ecgscope.calibrate._base import logit
from ecgscope.labels import LABELS

RULE_KINDS = ("exclusive", "rarely_together", "implies")
QUALITY_LABEL = "Poor data quality"

CLINICAL_RULES: tuple[tuple[str, str, str], ...] = (
    ("exclusive", "Atrial fibrillation", "Sinus rhythm"),
    ("rarely_together", "Atrial fibrillation", "Atrial flutter"),
    ("exclusive", "Bradycardia", "Tachycardia"),
    ("implies", "1st degree atrioventricular block", "Atrioventricular block"),
    ("implies", "Bifascicular block", "Right bundle branch block"),
)
RULES_VERSION = 1


@dataclass
class Rule:
    kind: str
    a: str
    b: str
    source: str  # "clinical", "data" or "clinical+data"
    active: bool = True
    evidence: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        if self.kind == "implies":
            return f"{self.a} implies {self.b}"
        word = "are mutually exclusive" if self.kind == "exclusive" else "rarely occur together"
        return f"{self.a} and {self.b} {word}"


@dataclass
class PlausibilityOutcome:
    probabilities: np.ndarray  # (n_labels,) after implication adjustments
    positive: np.ndarray  # (n_labels,) bool after suppressions
    suppressed: list[dict[str, str]]
    adjustments: list[dict[str, Any]]
    unreliable: bool
    unreliable_reason: str | None


class PlausibilityRules:
    """Fit rules from training labels; apply them to one recording's probabilities.

    Parameters
    ----------
    labels : tuple of str
    clinical : rules given as (kind, a, b)
    max_p_value : float
        A data-driven ``exclusive`` rule needs the pair never to co-occur in training although, were the
        labels independent, seeing no co-occurrence would have probability below this (Poisson:
        exp(-expected co-occurrences); 0.001 means at least 6.9 expected).
    min_support : int
        A data-driven ``implies`` rule needs ``a`` positive at least this often, always with ``b``.
    max_rare_rate : float
        Co-occurrence rate at or below which a ``rarely_together`` rule is active.

    Examples
    --------
    >>> y = np.zeros((200, 17)); y[:120, 1] = 1; y[120:180, 6] = 1          # sinus vs AF, never both
    >>> rules = PlausibilityRules().fit(y)
    >>> p = np.full(17, 0.05); p[1], p[6] = 0.7, 0.9
    >>> out = rules.apply(p, np.full(17, 0.5))
    >>> out.suppressed[0]["name"]
    'Sinus rhythm'
    """

    def __init__(self, labels: tuple[str, ...] = LABELS, clinical=CLINICAL_RULES, max_p_value: float = 0.001,
                 min_support: int = 10, max_rare_rate: float = 0.05):
        for kind, a, b in clinical:
            if kind not in RULE_KINDS:
                raise ValueError(f"unknown rule kind {kind!r}; valid: {', '.join(RULE_KINDS)}")
            for name in (a, b):
                if name not in labels:
                    raise ValueError(f"rule names unknown label {name!r}")
        self.labels = tuple(labels)
        self.clinical = tuple(clinical)
        self.max_p_value = max_p_value
        self.min_support = min_support
        self.max_rare_rate = max_rare_rate

    def fit(self, y: np.ndarray) -> PlausibilityRules:
        """Learn rules from (n, n_labels) training labels (NaN = not assessed) and attach evidence."""
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != len(self.labels):
            raise ValueError(f"labels must be (n, {len(self.labels)}); got {y.shape}")
        idx = {n: i for i, n in enumerate(self.labels)}

        def evidence(a: str, b: str) -> dict[str, float]:
            m = ~np.isnan(y[:, idx[a]]) & ~np.isnan(y[:, idx[b]])
            ya, yb = y[m, idx[a]] == 1, y[m, idx[b]] == 1
            n = int(m.sum())
            return {"n": n, "n_a": int(ya.sum()), "n_b": int(yb.sum()), "n_both": int((ya & yb).sum()),
                    "expected_both": float(ya.sum() * yb.sum() / n) if n else 0.0}

        rules: dict[tuple[str, str, str], Rule] = {}
        for kind, a, b in self.clinical:
            ev = evidence(a, b)
            active = True
            if kind == "rarely_together":
                rate = ev["n_both"] / max(1, min(ev["n_a"], ev["n_b"]))
                ev["rate"] = rate
                active = rate <= self.max_rare_rate
            rules[(kind, a, b)] = Rule(kind, a, b, "clinical", active, ev)
        for i, a in enumerate(self.labels):
            for b in self.labels[i + 1 :]:
                ev = evidence(a, b)
                if ev["n_both"] == 0 and np.exp(-ev["expected_both"]) < self.max_p_value and a != QUALITY_LABEL \
                        and b != QUALITY_LABEL:
                    key = ("exclusive", a, b)
                    if key in rules or ("exclusive", b, a) in rules:
                        rules.get(key, rules.get(("exclusive", b, a))).source = "clinical+data"
                    elif ("rarely_together", a, b) not in rules and ("rarely_together", b, a) not in rules:
                        rules[key] = Rule("exclusive", a, b, "data", True, ev)
        for a in self.labels:
            for b in self.labels:
                if a == b:
                    continue
                ev = evidence(a, b)
                if ev["n_a"] >= self.min_support and ev["n_both"] == ev["n_a"] and ev["n_b"] > ev["n_a"]:
                    key = ("implies", a, b)
                    if key in rules:
                        rules[key].source = "clinical+data"
                    else:
                        rules[key] = Rule("implies", a, b, "data", True, ev)
        self.rules_ = list(rules.values())
        return self

    def apply(self, probs: np.ndarray, thresholds: np.ndarray) -> PlausibilityOutcome:
        """Apply the fitted rules to one recording's calibrated probabilities."""
        if not hasattr(self, "rules_"):
            raise RuntimeError("PlausibilityRules is not fitted; call fit() first")
        p = np.asarray(probs, dtype=np.float64).copy()
        thr = np.asarray(thresholds, dtype=np.float64)
        idx = {n: i for i, n in enumerate(self.labels)}
        adjustments: list[dict[str, Any]] = []
        for rule in self.rules_:
            if rule.kind != "implies" or not rule.active:
                continue
            a, b = idx[rule.a], idx[rule.b]
            if p[a] >= thr[a] and p[b] < thr[b]:
                adjustments.append({"name": rule.b, "from": round(float(p[b]), 6), "to": round(float(p[a]), 6),
                                    "reason": f"{rule.describe()} ({rule.source} rule); {rule.a} is positive"})
                p[b] = max(p[b], p[a], thr[b])
        positive = p >= thr
        margin = logit(p) - logit(thr)
        suppressed: list[dict[str, str]] = []
        for rule in self.rules_:
            if rule.kind == "implies" or not rule.active:
                continue
            a, b = idx[rule.a], idx[rule.b]
            if positive[a] and positive[b]:
                keep, drop = (a, b) if margin[a] >= margin[b] else (b, a)
                positive[drop] = False
                suppressed.append({
                    "name": self.labels[drop],
                    "reason": f"{rule.describe()} ({rule.source} rule); {self.labels[keep]} is more probable "
                              f"({p[keep]:.2f} vs {p[drop]:.2f})",
                })
        unreliable, why = False, None
        if QUALITY_LABEL in idx:
            q = idx[QUALITY_LABEL]
            if p[q] >= thr[q]:
                unreliable = True
                why = (f"{QUALITY_LABEL} probability {p[q]:.2f} is at or above its threshold {thr[q]:.2f}: "
                       "the other findings may be unreliable")
        return PlausibilityOutcome(p, positive, suppressed, adjustments, unreliable, why)

    def to_dict(self) -> dict[str, Any]:
        if not hasattr(self, "rules_"):
            raise RuntimeError("PlausibilityRules is not fitted; call fit() first")
        return {"version": RULES_VERSION, "labels": list(self.labels), "max_p_value": self.max_p_value,
                "min_support": self.min_support, "max_rare_rate": self.max_rare_rate,
                "clinical": [list(r) for r in self.clinical], "rules": [asdict(r) for r in self.rules_]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlausibilityRules:
        if d.get("version") != RULES_VERSION:
            raise ValueError(f"plausibility rules version {d.get('version')} is not supported (expected {RULES_VERSION})")
        obj = cls(tuple(d["labels"]), tuple(tuple(r) for r in d["clinical"]), d["max_p_value"], d["min_support"],
                  d["max_rare_rate"])
        obj.rules_ = [Rule(**r) for r in d["rules"]]
        return obj
