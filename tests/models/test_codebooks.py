# SPDX-License-Identifier: MIT
"""Codebook fitting: each method's defining property, exact nearest coding, weighted PQ k-means."""

import math
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nomul.models.training import codebooks
from nomul.models.training.codebooks import (
    METHODS,
    assign,
    fit_codebook,
    fit_product_codebook,
    gaussian_params,
    laplace_params,
    laplace_scale,
    quantize,
)


def _strictly_increasing(c, k):
    assert c.dtype == np.float64 and c.shape == (k,)
    assert np.all(np.isfinite(c))
    assert np.all(np.diff(c) > 0)


def _laplace_cdf(x, loc, scale):
    z = (x - loc) / scale
    return 0.5 * math.exp(z) if z < 0 else 1.0 - 0.5 * math.exp(-z)


def _gaussian_cdf(x, mean, std):
    return 0.5 * (1.0 + math.erf((x - mean) / (std * math.sqrt(2.0))))


def _nearest_exact(value, codebook):
    """Brute force in exact rational arithmetic: nearest codeword, ties to the higher index."""
    v = Fraction(value)
    best = 0
    for i, c in enumerate(codebook):
        if abs(v - Fraction(c)) <= abs(v - Fraction(codebook[best])):
            best = i
    return best


def _pq_distances(points, metric, codebook):
    diff = points[:, None, :] - codebook[None, :, :]
    return np.sum(metric[:, None, :] * diff * diff, axis=2)


# -- every method ------------------------------------------------------------------------------

DATASETS = {
    "normal": np.random.default_rng(1).normal(0.5, 2.0, 1000),
    "constant": np.full(50, 1.25),
    "zeros": np.zeros(7),
    "few-distinct": np.array([0.0, 0.0, 1.0, 1.0, 1.0, 2.0]),
    "single": np.array([-3.0]),
    "heavy-ties": np.concatenate([np.zeros(900), np.linspace(0.1, 1.0, 100)]),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("data", DATASETS.values(), ids=DATASETS.keys())
@pytest.mark.parametrize("k", [2, 3, 8])
def test_every_method_returns_k_strictly_increasing_values(method, data, k):
    _strictly_increasing(fit_codebook(data, k, method), k)


@pytest.mark.parametrize("method", METHODS)
def test_input_shape_does_not_matter(method):
    data = np.random.default_rng(2).normal(size=(30, 20))
    np.testing.assert_array_equal(fit_codebook(data, 5, method),
                                  fit_codebook(data.ravel().tolist(), 5, method))


@pytest.mark.parametrize("method", METHODS)
def test_deterministic(method):
    data = np.random.default_rng(3).standard_t(3, 2000)
    np.testing.assert_array_equal(fit_codebook(data, 6, method), fit_codebook(data, 6, method))


def test_repeats_are_spread_above_and_distinct_values_kept():
    # Fewer distinct values than k: every data value is still a codeword (zero error for kmeans).
    data = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 2.0])
    c = fit_codebook(data, 5, "kmeans")
    _strictly_increasing(c, 5)
    np.testing.assert_array_equal(quantize(data, c), data)
    c = fit_codebook(np.full(4, 3.0), 3, "uniform")
    assert c[0] == 3.0 and c[-1] - c[0] < 1e-4


# -- distribution fits -------------------------------------------------------------------------

def test_laplace_maximum_likelihood_fit():
    samples = np.random.default_rng(0).laplace(0.3, 2.0, 200000)
    loc, scale = laplace_params(samples)
    assert abs(scale - 2.0) < 0.02
    assert abs(loc - 0.3) < 0.02
    assert laplace_scale(samples) == scale


def test_gaussian_maximum_likelihood_fit():
    samples = np.random.default_rng(0).normal(0.3, 2.0, 200000)
    mean, std = gaussian_params(samples)
    assert abs(std - 2.0) < 0.02
    assert abs(mean - 0.3) < 0.02


def test_maximum_likelihood_estimators_by_hand():
    data = [1.0, 2.0, 4.0, 9.0]
    assert laplace_params(data) == (3.0, (2.0 + 1.0 + 1.0 + 6.0) / 4)
    mean, std = gaussian_params(data)
    assert mean == 4.0 and std == pytest.approx(math.sqrt((9 + 4 + 0 + 25) / 4))


@pytest.mark.parametrize("k", [2, 5, 16])
def test_laplace_codewords_sit_at_the_fitted_quantiles(k):
    data = np.random.default_rng(4).laplace(-1.0, 0.5, 5001)
    loc = float(np.median(data))
    scale = float(np.mean(np.abs(data - loc)))
    c = fit_codebook(data, k, "laplace")
    for i, x in enumerate(c):
        assert _laplace_cdf(x, loc, scale) == pytest.approx((i + 0.5) / k, abs=1e-12)


@pytest.mark.parametrize("k", [2, 5, 16])
def test_gaussian_codewords_sit_at_the_fitted_quantiles(k):
    data = np.random.default_rng(5).normal(2.0, 0.7, 5000)
    mean, std = float(np.mean(data)), float(np.sqrt(np.mean((data - np.mean(data)) ** 2)))
    c = fit_codebook(data, k, "gaussian")
    for i, x in enumerate(c):
        assert _gaussian_cdf(x, mean, std) == pytest.approx((i + 0.5) / k, abs=1e-12)


def test_gaussian_without_scipy_matches(monkeypatch):
    data = np.random.default_rng(6).normal(size=1000)
    with_scipy = fit_codebook(data, 7, "gaussian")
    monkeypatch.setitem(sys.modules, "scipy.special", None)   # the import now fails
    without = fit_codebook(data, 7, "gaussian")
    np.testing.assert_allclose(without, with_scipy, rtol=0, atol=1e-12)


# -- uniform, quantile, kmeans -----------------------------------------------------------------

def test_uniform_spacing_is_exact():
    data = np.array([0.25, -1.5, 2.5, 1.0, 0.0])
    np.testing.assert_array_equal(fit_codebook(data, 5, "uniform"), [-1.5, -0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(fit_codebook(data, 6, "uniform", symmetric=True),
                                  [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(fit_codebook([-0.5, 2.0], 5, "uniform", symmetric=True),
                                  [-2.0, -1.0, 0.0, 1.0, 2.0])


def test_uniform_spans_the_data():
    data = np.random.default_rng(7).gamma(2.0, size=999)
    c = fit_codebook(data, 9, "uniform")
    assert c[0] == data.min() and c[-1] == data.max()
    np.testing.assert_allclose(np.diff(c), (data.max() - data.min()) / 8, rtol=1e-12)


def test_quantile_codewords_split_the_data_into_equal_counts():
    n, k = 12000, 8
    data = np.random.default_rng(8).normal(size=n)
    c = fit_codebook(data, k, "quantile")
    below = np.array([np.sum(data < x) for x in c])
    np.testing.assert_allclose(below, (np.arange(k) + 0.5) / k * n, atol=2)
    np.testing.assert_allclose(np.diff(below), n / k, atol=2)


def test_quantile_codes_uniform_data_into_near_equal_bins():
    n, k = 40000, 10
    data = np.random.default_rng(9).uniform(-1.0, 3.0, n)
    counts = np.bincount(assign(data, fit_codebook(data, k, "quantile")), minlength=k)
    # Midpoints of adjacent codewords fall near the quantiles i / k: every bin holds ~ n / k.
    assert np.all(np.abs(counts - n / k) < 0.05 * n / k)


def _mixture():
    rng = np.random.default_rng(10)
    means = np.array([-4.0, 0.5, 6.0])
    data = np.concatenate([rng.normal(m, 0.3, size) for m, size in zip(means, [800, 1500, 500])])
    return means, data


def test_kmeans_recovers_well_separated_means():
    means, data = _mixture()
    np.testing.assert_allclose(fit_codebook(data, 3, "kmeans"), means, atol=0.05)


def test_kmeans_beats_uniform_in_squared_error():
    _, data = _mixture()

    def mse(method):
        return np.mean((quantize(data, fit_codebook(data, 4, method)) - data) ** 2)

    assert mse("kmeans") < mse("uniform")


def test_kmeans_sample_weights():
    rng = np.random.default_rng(11)
    data = np.concatenate([rng.normal(0.0, 1.0, 500), rng.normal(10.0, 0.1, 500)])
    weights = np.concatenate([np.ones(500), np.zeros(500)])
    c = fit_codebook(data, 2, "kmeans", weights=weights)
    assert np.all(c < 5)                      # the zero-weight cluster attracts no codeword
    left, right = data[:500] < np.mean(c), data[:500] >= np.mean(c)
    np.testing.assert_allclose(c, [data[:500][left].mean(), data[:500][right].mean()],
                               atol=1e-9)
    # Only relative weights matter.
    np.testing.assert_allclose(fit_codebook(data, 3, "kmeans", weights=np.full(1000, 2.0)),
                               fit_codebook(data, 3, "kmeans", weights=np.ones(1000)),
                               rtol=1e-9)


# -- assign / quantize -------------------------------------------------------------------------

def test_assign_ties_go_up():
    codebook = [0.0, 1.0, 3.0]
    values = [0.5, 2.0, -1.0, 0.0, 0.4999, 1.0, 1.9999, 3.0, 10.0, np.inf, -np.inf]
    np.testing.assert_array_equal(assign(values, codebook), [1, 2, 0, 0, 0, 1, 1, 2, 2, 2, 0])
    assert assign(values, codebook).dtype == np.int64


def test_assign_inexact_midpoint():
    # a + b = 2 + 5 * 2**-52 rounds (half to even) to 2 + 4 * 2**-52, so the float midpoint
    # 1 + 2 * 2**-52 lies below the exact one, 1 + 2.5 * 2**-52: it is nearer to a.
    a, b = 1.0 + 2.0**-52, 1.0 + 2.0**-50
    rounded = (a + b) / 2
    assert rounded == 1.0 + 2 * 2.0**-52
    assert assign([rounded, 1.0 + 3 * 2.0**-52], [a, b]).tolist() == [0, 1]
    # Here the float midpoint rounds up, past the exact one: it is nearer to b.
    a, b = 0.1, 0.2
    rounded = (a + b) / 2
    assert Fraction(rounded) > (Fraction(a) + Fraction(b)) / 2
    assert assign([rounded], [a, b]).tolist() == [1]


def test_assign_keeps_shape_and_single_codeword():
    values = np.arange(12.0).reshape(3, 4)
    assert assign(values, [5.0]).shape == (3, 4)
    assert np.all(assign(values, [5.0]) == 0)
    np.testing.assert_array_equal(quantize(values, [0.0, 10.0]), np.where(values >= 5, 10.0, 0.0))


_floats = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(codebook=st.lists(_floats, min_size=1, max_size=8, unique=True),
       values=st.lists(_floats, max_size=12))
def test_assign_is_exact_nearest(codebook, values):
    codebook = sorted(set(codebook))   # unique up to -0.0 == 0.0
    c = np.array(codebook)
    # Probe the midpoints and their neighbours too, where rounding matters.
    with np.errstate(over="ignore"):
        mids = c[:-1] / 2 + c[1:] / 2
    probes = list(values) + mids.tolist()
    probes += [float(np.nextafter(m, d)) for m in mids for d in (-np.inf, np.inf)]
    got = assign(probes, c)
    assert got.tolist() == [_nearest_exact(v, codebook) for v in probes]
    np.testing.assert_array_equal(quantize(probes, c), c[got])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 40))
def test_assign_matches_brute_force_on_random_data(seed, k):
    rng = np.random.default_rng(seed)
    c = np.unique(rng.normal(size=k))
    x = rng.normal(scale=2.0, size=500)
    distance = np.abs(x[:, None] - c[None, :])
    # argmin of the reversed codebook: the highest index among equal distances.
    brute = len(c) - 1 - np.argmin(distance[:, ::-1], axis=1)
    np.testing.assert_array_equal(assign(x, c), brute)


# -- product quantization ----------------------------------------------------------------------

def _clusters(seed=12, n_per=60, d=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=5.0, size=(4, d))
    points = np.concatenate([c + rng.normal(scale=0.3, size=(n_per, d)) for c in centres])
    return points, rng.uniform(0.1, 2.0, size=points.shape)


def _weighted_distortion(points, metric, codebook, assignment):
    diff = points - codebook[assignment]
    return float(np.sum(metric * diff * diff))


def test_pq_shapes_types_and_sorted_codewords():
    points, metric = _clusters()
    codebook, assignment = fit_product_codebook(points, 6, metric_weights=metric)
    assert codebook.shape == (6, 3) and codebook.dtype == np.float64
    assert assignment.shape == (len(points),) and assignment.dtype == np.int64
    assert [tuple(row) for row in codebook] == sorted(tuple(row) for row in codebook)
    assert set(assignment.tolist()) <= set(range(6))


def test_pq_assignment_is_the_weighted_nearest_codeword():
    points, metric = _clusters(seed=13)
    codebook, assignment = fit_product_codebook(points, 7, metric_weights=metric, iterations=3)
    dist = _pq_distances(points, metric, codebook)
    chosen = dist[np.arange(len(points)), assignment]
    assert np.all(chosen <= dist.min(axis=1) * (1 + 1e-12) + 1e-15)


def test_pq_zero_metric_coordinate():
    # Coordinate 1 carries no weight: clustering follows coordinate 0 alone, whose codeword is
    # the cluster mean; coordinate 1 falls back to its plain cluster mean.
    rng = np.random.default_rng(14)
    x0 = np.concatenate([rng.normal(m, 0.2, 50) for m in (-3.0, 0.0, 4.0)])
    x1 = rng.normal(scale=10.0, size=x0.size)          # would dominate an unweighted metric
    points = np.stack([x0, x1], axis=1)
    metric = np.stack([np.full(x0.size, 3.0), np.zeros(x0.size)], axis=1)
    codebook, assignment = fit_product_codebook(points, 3, metric_weights=metric)
    np.testing.assert_array_equal(assignment, np.repeat([0, 1, 2], 50))
    for j in range(3):
        members = points[assignment == j]
        assert codebook[j, 0] == pytest.approx(members[:, 0].mean(), abs=1e-12)
        assert codebook[j, 1] == pytest.approx(members[:, 1].mean(), abs=1e-12)


def test_pq_centres_are_weighted_means_at_convergence():
    points, metric = _clusters(seed=15)
    codebook, assignment = fit_product_codebook(points, 4, metric_weights=metric, iterations=100)
    for j in range(4):
        m, p = metric[assignment == j], points[assignment == j]
        np.testing.assert_allclose(codebook[j], (m * p).sum(0) / m.sum(0), rtol=1e-12,
                                   atol=1e-12)


def test_pq_beats_random_assignment_and_improves_with_iterations():
    points, metric = _clusters(seed=16, n_per=80)
    k = 5
    rng = np.random.default_rng(99)
    random_assignment = rng.permutation(np.arange(len(points)) % k)
    baseline_centres = np.stack([
        (metric[random_assignment == j] * points[random_assignment == j]).sum(0)
        / metric[random_assignment == j].sum(0) for j in range(k)])
    baseline = _weighted_distortion(points, metric, baseline_centres, random_assignment)
    previous = np.inf
    for iterations in (0, 1, 2, 5, 25):
        result = _weighted_distortion(points, metric, *fit_product_codebook(
            points, k, metric_weights=metric, iterations=iterations))
        assert result <= baseline
        assert result <= previous * (1 + 1e-12)
        previous = result


def test_pq_unweighted_default_and_exact_fit():
    points, _ = _clusters(seed=17, n_per=5)
    codebook, assignment = fit_product_codebook(points, len(points))
    np.testing.assert_array_equal(codebook[assignment], points)
    np.testing.assert_array_equal(codebook, points[np.lexsort(points.T[::-1])])


def test_pq_empty_clusters_are_reseeded_at_the_farthest_point():
    points = np.array([[0.0], [0.1], [0.2], [5.0]])
    metric = np.ones_like(points)
    # The second start centre is nearest to no point; the farthest point (5.0) takes it.
    centres = codebooks._lloyd(points, metric, np.array([[0.0], [100.0]]), iterations=10)
    np.testing.assert_allclose(np.sort(centres[:, 0]), [0.1, 5.0])


def test_pq_deterministic_and_seeded():
    points, metric = _clusters(seed=18)
    first = fit_product_codebook(points, 9, metric_weights=metric, seed=3)
    second = fit_product_codebook(points, 9, metric_weights=metric, seed=3)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


# -- bad arguments -----------------------------------------------------------------------------

def _raises(call, *needles):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_bad_codebook_arguments():
    data = [0.0, 1.0, 2.0]
    _raises(lambda: fit_codebook(data, 4, "median"), "'median'")
    _raises(lambda: fit_codebook(data, 4, None), "None")
    _raises(lambda: fit_codebook(data, 1, "uniform"), "1")
    _raises(lambda: fit_codebook(data, 0, "kmeans"), "0")
    _raises(lambda: fit_codebook(data, 2.5, "kmeans"), "2.5")
    _raises(lambda: fit_codebook([], 4, "quantile"), "empty")
    _raises(lambda: fit_codebook([0.0, np.nan], 4, "gaussian"), "NaN")
    _raises(lambda: fit_codebook([0.0, np.inf], 4, "laplace"), "infinity")
    _raises(lambda: fit_codebook(data, 2, "kmeans", weights=[1.0, 1.0]))
    _raises(lambda: fit_codebook(data, 2, "kmeans", weights=[1.0, -1.0, 1.0]))
    _raises(lambda: fit_codebook(data, 2, "kmeans", weights=[0.0, 0.0, 0.0]))
    _raises(lambda: fit_codebook(data, 2, "quantile", weights=[1.0, 1.0, 1.0]), "'quantile'")
    _raises(lambda: fit_codebook(data, 2, "laplace", symmetric=True), "'laplace'")
    _raises(lambda: laplace_scale([]))
    _raises(lambda: gaussian_params([np.nan]))


def test_bad_assign_arguments():
    _raises(lambda: assign([0.0], [1.0, 0.0]), "increasing")
    _raises(lambda: assign([0.0], [1.0, 1.0]), "increasing")
    _raises(lambda: assign([0.0], []))
    _raises(lambda: assign([0.0], [[0.0, 1.0]]))
    _raises(lambda: assign([0.0], [0.0, np.nan]))
    _raises(lambda: assign([np.nan], [0.0, 1.0]), "NaN")
    _raises(lambda: quantize([np.nan], [0.0, 1.0]), "NaN")


def test_bad_product_codebook_arguments():
    points = np.random.default_rng(19).normal(size=(10, 2))
    _raises(lambda: fit_product_codebook(points[:, 0], 2))
    _raises(lambda: fit_product_codebook(np.empty((0, 2)), 2))
    _raises(lambda: fit_product_codebook(np.where(points > 1, np.nan, points), 2), "NaN")
    _raises(lambda: fit_product_codebook(points, 0), "0")
    _raises(lambda: fit_product_codebook(points, 11), "11")
    _raises(lambda: fit_product_codebook(points, 2, metric_weights=np.ones((10, 3))), "(10, 3)")
    _raises(lambda: fit_product_codebook(points, 2, metric_weights=-np.ones((10, 2))))
    _raises(lambda: fit_product_codebook(points, 2, iterations=-1), "-1")
