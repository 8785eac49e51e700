"""The drift statistics (ml/baseline.py) against values computed independently: scipy's
two-sample KS test and PSI written out bin by bin from its definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
from baseline import (
    bin_edges,
    bin_shares,
    bounded_sample,
    build_baseline,
    ks_statistic,
    prediction_psi,
    psi,
)
from scipy.stats import ks_2samp

RNG = np.random.default_rng(7)


def _psi_by_hand(train: np.ndarray, live: np.ndarray, edges: list[float]) -> float:
    """PSI from its definition, counting bins (-inf, e1], (e1, e2], ..., (ek, inf) one by one."""
    bounds = [-math.inf, *edges, math.inf]
    total = 0.0
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        expected = max(sum(1 for v in train if low < v <= high) / len(train), 1e-4)
        actual = max(sum(1 for v in live if low < v <= high) / len(live), 1e-4)
        total += (actual - expected) * math.log(actual / expected)
    return total


@pytest.mark.parametrize(
    ("shift", "scale"), [(0.0, 1.0), (0.3, 1.0), (1.0, 1.0), (0.0, 2.0), (2.0, 0.5)]
)
def test_ks_statistic_equals_scipy_ks_2samp(shift: float, scale: float) -> None:
    reference = RNG.normal(size=455)
    observed = RNG.normal(loc=shift, scale=scale, size=137)
    expected = ks_2samp(reference, observed).statistic
    assert ks_statistic(reference, observed) == pytest.approx(expected, abs=1e-12)


def test_ks_statistic_equals_scipy_with_ties() -> None:
    reference = RNG.integers(0, 5, size=300).astype(float)
    observed = RNG.integers(1, 7, size=80).astype(float)
    expected = ks_2samp(reference, observed).statistic
    assert ks_statistic(reference, observed) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.25, 1.5])
def test_psi_equals_the_definition_bin_by_bin(shift: float) -> None:
    train = RNG.normal(size=400)
    live = RNG.normal(loc=shift, size=150)
    edges = bin_edges(train)
    found = psi(bin_shares(train, edges), bin_shares(live, edges))
    assert found == pytest.approx(_psi_by_hand(train, live, edges), rel=1e-12)


def test_psi_of_the_same_distribution_is_small_and_of_a_shift_large() -> None:
    train = RNG.normal(size=2000)
    edges = bin_edges(train)
    same = psi(bin_shares(train, edges), bin_shares(RNG.normal(size=2000), edges))
    shifted = psi(bin_shares(train, edges), bin_shares(RNG.normal(loc=1, size=2000), edges))
    assert same < 0.05 < 0.25 < shifted


def test_bin_edges_are_the_training_deciles_and_shares_are_tenths() -> None:
    train = np.arange(1, 101, dtype=float)
    edges = bin_edges(train)
    assert edges == pytest.approx(np.quantile(train, np.linspace(0.1, 0.9, 9)).tolist())
    assert bin_shares(train, edges) == pytest.approx([0.1] * 10)


def test_a_constant_feature_has_one_edge_and_every_value_in_one_bin() -> None:
    edges = bin_edges(np.full(50, 3.0))
    assert edges == [3.0]
    assert bin_shares(np.full(10, 3.0), edges) == [1.0, 0.0]
    assert bin_shares(np.array([4.0]), edges) == [0.0, 1.0]


def test_bounded_sample_keeps_small_data_whole_and_caps_large_data() -> None:
    small = RNG.normal(size=300)
    assert bounded_sample(small, seed=1) == small.tolist()
    large = RNG.normal(size=5000)
    sample = bounded_sample(large, seed=1, size=1000)
    assert len(sample) == 1000 and set(sample) <= set(large.tolist())
    assert bounded_sample(large, seed=1, size=1000) == sample  # reproducible from the seed


def test_prediction_psi_compares_class_shares_including_unseen_classes() -> None:
    baseline = build_baseline(np.zeros((4, 1)), ["x"], [0, 0, 1, 1], numeric=False, seed=0)
    assert prediction_psi(baseline["prediction"], ["0", "1"]) == pytest.approx(0.0)
    found = prediction_psi(baseline["prediction"], ["1", "1", "2"])
    by_hand = sum(
        (a - e) * math.log(a / e)
        for e, a in [(0.5, 1e-4), (0.5, 2 / 3), (1e-4, 1 / 3)]  # classes 0, 1, 2
    )
    assert found == pytest.approx(by_hand)
    assert prediction_psi(baseline["prediction"], []) is None
