"""The drift baseline a model is trained with, and the statistics drift.py compares against it.

train.py writes `baseline.json` beside the model: for every feature of the TRAIN split (what
the model learned from)
- `edges`: fixed bin edges, the training deciles (duplicates removed), and `shares`: the share
  of training rows in each bin — bins are (-inf, e1], (e1, e2], ..., (ek, +inf), so any value
  falls in one. This is what the Population Stability Index (PSI) needs;
- `sample`: a bounded sample for the two-sample Kolmogorov-Smirnov (KS) test: every training
  value when there are at most SAMPLE_SIZE rows (the statistic is then exact), else a uniform
  sample without replacement of SAMPLE_SIZE values drawn with the training seed. The sample's
  own error: its empirical CDF is within about 1.36 / sqrt(SAMPLE_SIZE) = 0.043 of the training
  data's everywhere, at 95 % (Dvoretzky-Kiefer-Wolfowitz inequality), so a KS statistic computed
  against it is off by at most that much;
- `min`, `max`: the training range (a captured value outside it is "out of range");
plus `prediction`: the distribution of the model's own answers on the training rows (class
shares for classification; edges and shares as above for regression).

PSI = sum over bins of (actual - expected) * ln(actual / expected), with each share floored at
PSI_FLOOR so an empty bin does not make it infinite. KS = the largest distance between the two
empirical CDFs. numpy only: this runs in the SageMaker scikit-learn container.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BINS = 10
SAMPLE_SIZE = 1000
PSI_FLOOR = 1e-4


def bin_edges(values: np.ndarray, bins: int = BINS) -> list[float]:
    """Interior edges at the training quantiles (1/bins ... (bins-1)/bins), unique."""
    values = np.asarray(values, dtype=np.float64)
    quantiles = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(edge) for edge in np.unique(quantiles)]


def bin_shares(values: np.ndarray, edges: list[float]) -> list[float]:
    """Share of `values` in each of the len(edges) + 1 bins (-inf, e1], ..., (ek, +inf)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return [0.0] * (len(edges) + 1)
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return [float(c) / len(values) for c in counts]


def psi(expected: list[float], actual: list[float], floor: float = PSI_FLOOR) -> float:
    """Population Stability Index of two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), floor)
    a = np.maximum(np.asarray(actual, dtype=np.float64), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_statistic(reference: np.ndarray, observed: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: sup |F_reference(x) - F_observed(x)|."""
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    obs = np.sort(np.asarray(observed, dtype=np.float64))
    if len(ref) == 0 or len(obs) == 0:
        return 0.0
    points = np.concatenate([ref, obs])
    f_ref = np.searchsorted(ref, points, side="right") / len(ref)
    f_obs = np.searchsorted(obs, points, side="right") / len(obs)
    return float(np.max(np.abs(f_ref - f_obs)))


def bounded_sample(values: np.ndarray, seed: int, size: int = SAMPLE_SIZE) -> list[float]:
    values = np.asarray(values, dtype=np.float64)
    if len(values) > size:
        values = np.random.default_rng(seed).choice(values, size=size, replace=False)
    return [float(v) for v in values]


def feature_summary(values: np.ndarray, seed: int) -> dict[str, Any]:
    edges = bin_edges(values)
    return {
        "edges": edges,
        "shares": bin_shares(values, edges),
        "sample": bounded_sample(values, seed),
        "min": float(np.min(values)),
        "max": float(np.max(values)),
        "rows": int(len(values)),
    }


def category_shares(labels: list[Any]) -> dict[str, float]:
    """Share of each answer (labels as text, so JSON keys and captured answers compare)."""
    if not labels:
        return {}
    names, counts = np.unique([str(label) for label in labels], return_counts=True)
    return {str(n): float(c) / len(labels) for n, c in zip(names, counts)}  # noqa: B905


def prediction_summary(answers: list[Any], numeric: bool) -> dict[str, Any]:
    if numeric:
        values = np.asarray(answers, dtype=np.float64)
        edges = bin_edges(values)
        return {"kind": "numeric", "edges": edges, "shares": bin_shares(values, edges)}
    return {"kind": "categorical", "shares": category_shares(answers)}


def prediction_psi(baseline: dict[str, Any], answers: list[Any]) -> float | None:
    """PSI of the captured answers against the training answers (None without answers)."""
    if not answers:
        return None
    if baseline["kind"] == "numeric":
        actual = bin_shares(np.asarray(answers, dtype=np.float64), baseline["edges"])
        return psi(baseline["shares"], actual)
    observed = category_shares(answers)
    names = sorted(set(baseline["shares"]) | set(observed))
    return psi(
        [baseline["shares"].get(n, 0.0) for n in names], [observed.get(n, 0.0) for n in names]
    )


def build_baseline(
    features: np.ndarray, feature_names: list[str], answers: list[Any], numeric: bool, seed: int
) -> dict[str, Any]:
    """The baseline of a training split (`features` rows x `feature_names`)."""
    return {
        "version": 1,
        "bins": BINS,
        "sample_size": SAMPLE_SIZE,
        "rows": int(features.shape[0]),
        "feature_names": list(feature_names),
        "features": {
            name: feature_summary(features[:, i], seed + i) for i, name in enumerate(feature_names)
        },
        "prediction": prediction_summary(answers, numeric),
    }
