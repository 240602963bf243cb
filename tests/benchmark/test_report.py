"""The grid report's pooling of the post-training claims over seeds."""

import pandas as pd
import pytest

from ecgscope.benchmark.report import claims_over_seeds


def test_claims_over_seeds_pools_each_claim_and_counts_seeds():
    rows = []
    for seed, (diff, lo, hi) in enumerate([(-0.02, -0.03, -0.01), (0.01, -0.01, 0.03), (-0.005, -0.02, 0.01)], 1):
        rows.append({"task": "t", "model": "m", "seed": seed, "claim": "c1", "a": "post-train 30%",
                     "b": "finetune 30%", "auroc_a": 0.8, "auroc_b": 0.8 - diff, "difference": diff,
                     "ci_lo": lo, "ci_hi": hi, "verdict": ""})
    rows.append({"task": "t", "model": "m", "seed": 1, "claim": "c2", "a": "post-train 30%", "b": "finetune 100%",
                 "auroc_a": 0.8, "auroc_b": 0.85, "difference": -0.05, "ci_lo": -0.08, "ci_hi": -0.02, "verdict": ""})
    pooled = claims_over_seeds(pd.DataFrame(rows)).set_index("claim")
    assert pooled.loc["c1", "seeds"] == 3
    assert pooled.loc["c1", "mean_difference"] == pytest.approx((-0.02 + 0.01 - 0.005) / 3)
    assert pooled.loc["c1", "sd"] == pytest.approx(pd.Series([-0.02, 0.01, -0.005]).std())
    assert pooled.loc["c1", "holds"] == 1  # only seed 2 has a - b >= 0
    assert pooled.loc["c1", "fails_significantly"] == 1  # only seed 1's CI lies below 0
    assert pooled.loc["c2", "seeds"] == 1 and pooled.loc["c2", "fails_significantly"] == 1


def test_claims_over_seeds_of_no_comparisons_is_empty():
    assert claims_over_seeds(pd.DataFrame()).empty
