# SPDX-License-Identifier: MIT
"""Codebooks of quantized training: 1-D scalar codebooks and product-quantization codewords.

A scalar codebook is a strictly increasing float64 array of ``k`` codewords. A value is coded by
its nearest codeword, ties going to the higher index: with the midpoints ``m_i`` of adjacent
codewords, the index of ``x`` is the number of midpoints ``m_i <= x``, the same rule as the
thresholds of an input quantizer. Midpoints are rounded up to the nearest double, so the rule is
exact nearest-codeword coding even where ``(a + b) / 2`` is not representable.

Fitting methods (:data:`METHODS`), each at the probability levels ``(i + 0.5) / k``:

- ``uniform``: ``k`` evenly spaced values over ``[min, max]`` (or ``[-m, m]``, ``m = max |x|``).
- ``laplace``: quantiles of the maximum-likelihood Laplace fit (median, mean absolute deviation).
- ``gaussian``: quantiles of the maximum-likelihood Gaussian fit (mean, population std).
- ``kmeans``: 1-D k-means (Lloyd, scikit-learn, one OpenMP thread) started at the data
  quantiles.
- ``quantile``: the empirical quantiles of the data.

Everything is deterministic: the same input gives the same output, whatever the number of
BLAS or OpenMP threads.
"""

import functools
import operator
import warnings
from statistics import NormalDist

import numpy as np

__all__ = ["METHODS", "fit_codebook", "assign", "quantize", "fit_product_codebook",
           "laplace_params", "laplace_scale", "gaussian_params"]

METHODS = ("uniform", "laplace", "gaussian", "kmeans", "quantile")

# Repeated codewords are pushed up by this fraction of the codebook's magnitude: small, yet
# ~128 float32 ulps, so the codewords stay distinct after a cast to float32.
_SPREAD = 2.0 ** -20

# Rows of the (rows, k) distance block of the product-quantization k-means (~32 MiB).
_BLOCK_ELEMENTS = 1 << 22


# -- validation --------------------------------------------------------------------------------

def _data(values, name="values"):
    """``values`` flattened to a non-empty, finite float64 vector."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError(f"{name} is empty; a codebook needs at least one value")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinity")
    return x


def _size(k, least):
    """``k`` as an int of at least ``least``."""
    try:
        size = operator.index(k)
    except TypeError:
        raise ValueError(f"codebook size k must be an integer, got {k!r}") from None
    if size < least:
        raise ValueError(f"codebook size k must be at least {least}, got {size}")
    return size


def _codebook(codebook):
    """``codebook`` as a non-empty, finite, strictly increasing float64 vector."""
    c = np.asarray(codebook, dtype=np.float64)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"codebook must be a non-empty 1-D array, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("codebook contains NaN or infinity")
    if not np.all(c[1:] > c[:-1]):
        raise ValueError("codebook must be strictly increasing")
    return c


def _levels(k):
    """The probability levels ``(i + 0.5) / k``, ``i = 0 .. k-1``."""
    return (np.arange(k, dtype=np.float64) + 0.5) / k


# -- distribution fits -------------------------------------------------------------------------

def laplace_params(values):
    """Maximum-likelihood Laplace fit.

    Parameters
    ----------
    values : array_like
        Samples (any shape, flattened); finite and non-empty.

    Returns
    -------
    loc : float
        The median of the samples.
    scale : float
        The mean absolute deviation from the median, ``mean(|x - loc|)``.

    Raises
    ------
    ValueError
        If ``values`` is empty or contains NaN or infinity.
    """
    x = _data(values)
    loc = float(np.median(x))
    return loc, float(np.mean(np.abs(x - loc)))


def laplace_scale(values):
    """Maximum-likelihood Laplace scale ``b = mean(|x - median(x)|)``.

    Parameters
    ----------
    values : array_like
        Samples (any shape, flattened); finite and non-empty.

    Returns
    -------
    float
        The scale ``b``; see :func:`laplace_params` for the location too.

    Raises
    ------
    ValueError
        If ``values`` is empty or contains NaN or infinity.
    """
    return laplace_params(values)[1]


def gaussian_params(values):
    """Maximum-likelihood Gaussian fit.

    Parameters
    ----------
    values : array_like
        Samples (any shape, flattened); finite and non-empty.

    Returns
    -------
    mean : float
        The sample mean.
    std : float
        The population (``ddof=0``, maximum-likelihood) standard deviation.

    Raises
    ------
    ValueError
        If ``values`` is empty or contains NaN or infinity.
    """
    x = _data(values)
    return float(np.mean(x)), float(np.std(x))


def _normal_quantiles(p):
    """Standard normal quantiles of the probabilities ``p`` (scipy when importable)."""
    try:
        from scipy.special import ndtri
    except ImportError:
        inverse = NormalDist().inv_cdf
        return np.array([inverse(float(q)) for q in p], dtype=np.float64)
    return np.asarray(ndtri(p), dtype=np.float64)


# -- scalar codebooks --------------------------------------------------------------------------

def _strictly_increasing(codewords):
    """Sorted ``codewords`` with each repeat pushed just above its predecessor.

    A codeword not above its predecessor becomes the predecessor plus ``2**-20`` times the largest
    magnitude (``2**-20`` when all are 0); codewords already increasing are kept exactly.
    """
    c = np.sort(np.asarray(codewords, dtype=np.float64))
    if np.all(c[1:] > c[:-1]):
        return c
    magnitude = float(np.max(np.abs(c)))
    step = _SPREAD * (magnitude if magnitude > 0 else 1.0)
    for i in range(1, len(c)):
        if not c[i] > c[i - 1]:
            c[i] = max(c[i - 1] + step, np.nextafter(c[i - 1], np.inf))
    return c


def _kmeans_1d(x, k, weights):
    """Sorted 1-D k-means centres (distinct values themselves when there are at most ``k``)."""
    if weights is not None:
        keep = weights > 0
        x, weights = x[keep], weights[keep]
    distinct = np.unique(x)
    if len(distinct) <= k:
        # The distinct values code the data without error; repeats of the largest fill up to k.
        return np.concatenate([distinct, np.full(k - len(distinct), distinct[-1])])
    if weights is None:
        init = np.quantile(x, _levels(k))
    else:
        init = np.quantile(x, _levels(k), weights=weights, method="inverted_cdf")
    if not np.all(init[1:] > init[:-1]):
        init = np.quantile(distinct, _levels(k))     # strictly increasing: > k distinct values
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    model = KMeans(n_clusters=k, init=init.reshape(-1, 1), n_init=1, tol=1e-6, max_iter=100,
                   random_state=0)
    with warnings.catch_warnings(), _openmp_threads().limit(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)   # fewer distinct clusters than k
        model.fit(x.reshape(-1, 1), sample_weight=weights)
    return np.sort(model.cluster_centers_.ravel())


@functools.cache
def _openmp_threads():
    """The OpenMP runtimes loaded once scikit-learn's k-means is (a threadpoolctl controller).

    ``KMeans`` runs on one OpenMP thread: its Lloyd step sums each cluster's points in per-thread
    buffers (a thread's share of the 256-sample chunks) and then adds the buffers together, so
    the centres' last bits depend on the number of threads, and a model file would depend on
    ``OMP_NUM_THREADS``. On one thread the chunks are summed in order: the same codebook
    whatever the environment or the caller's limits, and no slower on these small inputs.
    """
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="openmp")


def fit_codebook(values, k, method, *, weights=None, symmetric=False):
    """Fit a ``k``-value scalar codebook to data.

    Parameters
    ----------
    values : array_like
        The data (any shape, flattened); finite and non-empty.
    k : int
        Number of codewords, at least 2.
    method : {"uniform", "laplace", "gaussian", "kmeans", "quantile"}
        ``uniform``: ``k`` evenly spaced values over ``[min, max]``, or over ``[-m, m]`` with
        ``m = max |x|`` when ``symmetric``. ``laplace``: location ``mu = median``, scale
        ``b = mean(|x - mu|)``, codewords at the Laplace quantiles ``(i + 0.5) / k``.
        ``gaussian``: ``mu = mean``, ``sigma = std`` (``ddof=0``), codewords at the Gaussian
        quantiles ``(i + 0.5) / k``. ``kmeans``: 1-D k-means (scikit-learn ``KMeans``,
        ``n_init=1``, ``random_state=0``, ``tol=1e-6``, at most 100 iterations: it is refit
        often during training; on one OpenMP thread, so that the thread count cannot change
        the last bits of the centres) started at the (weighted) data quantiles
        ``(i + 0.5) / k``; with at most ``k`` distinct values (of positive weight) these values
        are the codewords.
        ``quantile``: the empirical quantiles ``(i + 0.5) / k`` (linear interpolation).
    weights : array_like, optional
        Non-negative sample weights, same size as ``values``, positive sum; ``kmeans`` only.
    symmetric : bool, optional
        Symmetric range ``[-m, m]``; ``uniform`` only.

    Returns
    -------
    numpy.ndarray
        ``k`` strictly increasing float64 codewords. Where a method yields repeated values (data
        with fewer than ``k`` distinct values, zero spread), each repeat is pushed just above its
        predecessor, by ``2**-20`` times the largest codeword magnitude.

    Raises
    ------
    ValueError
        For an unknown ``method``, ``k < 2``, empty data, NaN or infinity in the data, or
        ``weights`` / ``symmetric`` that do not fit the method or the data.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown codebook method {method!r}; choose from {', '.join(METHODS)}")
    k = _size(k, 2)
    x = _data(values)
    if weights is not None:
        if method != "kmeans":
            raise ValueError(f"sample weights are only used by method 'kmeans', not {method!r}")
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != x.shape:
            raise ValueError(f"weights has {w.size} elements, values has {x.size}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.sum(w) > 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        weights = w
    if symmetric and method != "uniform":
        raise ValueError(f"symmetric=True is only used by method 'uniform', not {method!r}")

    if method == "uniform":
        if symmetric:
            m = float(np.max(np.abs(x)))
            raw = np.linspace(-m, m, k)
        else:
            raw = np.linspace(float(np.min(x)), float(np.max(x)), k)
    elif method == "laplace":
        loc, scale = laplace_params(x)
        centred = _levels(k) - 0.5
        raw = loc - scale * np.sign(centred) * np.log1p(-2.0 * np.abs(centred))
    elif method == "gaussian":
        mean, std = gaussian_params(x)
        raw = mean + std * _normal_quantiles(_levels(k))
    elif method == "kmeans":
        raw = _kmeans_1d(x, k, weights)
    else:
        raw = np.quantile(x, _levels(k))
    return _strictly_increasing(raw)


def _midpoints(codebook):
    """For adjacent codewords ``a < b``: the smallest double ``>=`` the exact ``(a + b) / 2``.

    ``s = a + b`` with its exact rounding error ``e`` (TwoSum); ``s / 2`` is exact, and when
    ``e > 0`` the true midpoint lies just above it, so the next double up is taken. Pairs whose
    sum overflows are scaled by 1/4, pairs whose sum is tiny by ``2**900`` (both exact).
    """
    a, b = codebook[:-1], codebook[1:]
    with np.errstate(over="ignore"):
        total = a + b
    scale = np.where(~np.isfinite(total), 0.25,
                     np.where(np.abs(total) < 2.0 ** -1020, 2.0 ** 900, 1.0))
    a, b = a * scale, b * scale
    s = a + b
    b_virtual = s - a
    error = (a - (s - b_virtual)) + (b - b_virtual)
    mid = s * 0.5
    mid = np.where(error > 0, np.nextafter(mid, np.inf), mid)
    unscaled = mid / scale
    below = unscaled * scale < mid             # rounded down when scaling back (subnormals)
    return np.where(below, np.nextafter(unscaled, np.inf), unscaled)


def assign(values, codebook):
    """Index of the nearest codeword of each value, ties going to the higher index.

    Parameters
    ----------
    values : array_like
        Values of any shape; no NaN (infinities code to the end codewords).
    codebook : array_like
        Strictly increasing, finite, non-empty 1-D codebook.

    Returns
    -------
    numpy.ndarray
        int64 indices, same shape as ``values``: the number of midpoints ``m`` of adjacent
        codewords with ``value >= m`` (exact nearest-codeword coding, ties up).

    Raises
    ------
    ValueError
        If ``values`` contains NaN or the codebook is not strictly increasing and finite.
    """
    c = _codebook(codebook)
    x = np.asarray(values, dtype=np.float64)
    if np.any(np.isnan(x)):
        raise ValueError("values contains NaN")
    return np.searchsorted(_midpoints(c), x, side="right").astype(np.int64)


def quantize(values, codebook):
    """Each value replaced by its nearest codeword (ties up): ``codebook[assign(...)]``.

    Parameters
    ----------
    values : array_like
        Values of any shape; no NaN.
    codebook : array_like
        Strictly increasing, finite, non-empty 1-D codebook.

    Returns
    -------
    numpy.ndarray
        float64 codewords, same shape as ``values``.

    Raises
    ------
    ValueError
        As :func:`assign`.
    """
    return np.asarray(codebook, dtype=np.float64)[assign(values, codebook)]


# -- product quantization ----------------------------------------------------------------------

def _distance_to(points, metric, centre):
    """``(n,)`` weighted squared distances ``sum_j h_ij (w_ij - c_j)^2`` to one centre."""
    diff = points - centre
    return np.sum(metric * diff * diff, axis=1)


def _nearest(points, metric, centres):
    """Nearest centre of each point (lowest index on exact ties) and its distance.

    The candidates are ranked, in row blocks, by ``sum_j h_ij c_kj^2 - 2 sum_j h_ij w_ij c_kj``
    (the distance less a per-point constant: one matrix product); the distance to the chosen
    centre is then computed directly.
    """
    n, k = len(points), len(centres)
    lhs = np.concatenate([metric, metric * points], axis=1)              # (n, 2d)
    rhs = np.concatenate([centres * centres, -2.0 * centres], axis=1).T  # (2d, k)
    labels = np.empty(n, dtype=np.int64)
    rows = max(1, _BLOCK_ELEMENTS // k)
    for start in range(0, n, rows):
        labels[start:start + rows] = np.argmin(lhs[start:start + rows] @ rhs, axis=1)
    return labels, _distance_to(points, metric, centres[labels])


def _update(points, metric, labels, k):
    """Per-cluster, per-coordinate ``sum h w / sum h`` (plain mean where ``sum h = 0``)."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    centres = np.empty((k, points.shape[1]), dtype=np.float64)
    for j in range(points.shape[1]):
        weight = np.bincount(labels, weights=metric[:, j], minlength=k)
        weighted = np.bincount(labels, weights=metric[:, j] * points[:, j], minlength=k)
        plain = np.bincount(labels, weights=points[:, j], minlength=k)
        positive = weight > 0
        centres[:, j] = np.where(positive, weighted / np.where(positive, weight, 1.0),
                                 plain / np.maximum(counts, 1.0))
    return centres


def _reseed(points, labels, dist, centres):
    """Re-seed every empty cluster at the farthest point of a cluster with two or more points.

    Empty clusters are taken in index order; each takes the point with the largest current
    distance (lowest index on ties) among clusters that keep at least one point, which then
    belongs to it at distance 0. Changes ``labels``, ``dist`` and ``centres`` in place.
    """
    k = len(centres)
    counts = np.bincount(labels, minlength=k)
    for empty in np.flatnonzero(counts == 0):
        candidates = np.where(counts[labels] > 1, dist, -np.inf)
        i = int(np.argmax(candidates))
        counts[labels[i]] -= 1
        counts[empty] = 1
        labels[i] = empty
        dist[i] = 0.0
        centres[empty] = points[i]


def _kmeans_plus_plus(points, metric, k, rng):
    """k-means++ seeding under the weighted metric (D^2 sampling)."""
    n = len(points)
    chosen = [int(rng.integers(n))]
    closest = _distance_to(points, metric, points[chosen[0]])
    for _ in range(1, k):
        cumulative = np.cumsum(closest)
        total = cumulative[-1]
        if total > 0:
            i = int(np.searchsorted(cumulative, rng.random() * total, side="right"))
            i = min(i, n - 1)
        else:
            i = int(rng.integers(n))
        chosen.append(i)
        closest = np.minimum(closest, _distance_to(points, metric, points[i]))
    return points[chosen].copy()


def _lloyd(points, metric, centres, iterations):
    """Weighted Lloyd iterations from ``centres``; stops early once the assignment is stable."""
    k = len(centres)
    previous = None
    for _ in range(iterations):
        labels, dist = _nearest(points, metric, centres)
        if previous is not None and np.array_equal(labels, previous):
            break
        _reseed(points, labels, dist, centres)
        centres = _update(points, metric, labels, k)
        previous = labels
    return centres


def fit_product_codebook(subvectors, k, *, metric_weights=None, iterations=25, seed=0):
    """Product-quantization k-means of sub-vectors under a diagonal weighted metric.

    As in "And the Bit Goes Down" (Stock et al., 2020): the distance of sub-vector ``w_i`` to
    codeword ``c`` is ``sum_j h_ij (w_ij - c_j)^2`` with ``h`` the diagonal of the layer's input
    second moments, and a codeword is the ``h``-weighted centroid of its sub-vectors,
    ``c_kj = sum_{i in k} h_ij w_ij / sum_{i in k} h_ij`` (the plain mean where that weight sum
    is 0). Seeding is k-means++ with ``numpy.random.default_rng(seed)``; each iteration assigns
    every point to its nearest codeword, re-seeds each empty cluster at the point with the largest
    current distance (taken from a cluster that keeps a point), and updates the codewords. It
    stops early when the assignment no longer changes, in which case every codeword is the
    weighted centroid of the returned assignment.

    Parameters
    ----------
    subvectors : array_like
        ``(n, d)`` finite sub-vectors.
    k : int
        Number of codewords, ``1 <= k <= n``.
    metric_weights : array_like, optional
        ``(n, d)`` (or broadcastable) finite, non-negative per-coordinate weights ``h``; all
        ones (plain k-means) when omitted.
    iterations : int, optional
        Maximum number of Lloyd iterations (0 returns the seeding).
    seed : int, optional
        Seed of the k-means++ generator.

    Returns
    -------
    codebook : numpy.ndarray
        ``(k, d)`` float64 codewords, sorted lexicographically (first coordinate first).
    assignment : numpy.ndarray
        ``(n,)`` int64 index into ``codebook`` of each sub-vector's nearest codeword under the
        weighted metric (ranked up to float rounding; lowest index on exact ties).

    Raises
    ------
    ValueError
        For a non-2-D, empty or non-finite ``subvectors``, ``k`` outside ``[1, n]``, metric
        weights of the wrong shape, negative or non-finite, or negative ``iterations``.
    """
    points = np.asarray(subvectors, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] == 0:
        raise ValueError(f"subvectors must be a non-empty (n, d) array, got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("subvectors contains NaN or infinity")
    n, d = points.shape
    k = _size(k, 1)
    if k > n:
        raise ValueError(f"codebook size k = {k} exceeds the number of sub-vectors n = {n}")
    if metric_weights is None:
        metric = np.ones_like(points)
    else:
        metric = np.asarray(metric_weights, dtype=np.float64)
        try:
            metric = np.ascontiguousarray(np.broadcast_to(metric, points.shape))
        except ValueError:
            raise ValueError(f"metric_weights has shape {metric.shape}, subvectors has "
                             f"{points.shape}") from None
        if not np.all(np.isfinite(metric)) or np.any(metric < 0):
            raise ValueError("metric_weights must be finite and non-negative")
    try:
        iterations = operator.index(iterations)
    except TypeError:
        raise ValueError(f"iterations must be an integer, got {iterations!r}") from None
    if iterations < 0:
        raise ValueError(f"iterations must be non-negative, got {iterations}")

    rng = np.random.default_rng(seed)
    centres = _lloyd(points, metric, _kmeans_plus_plus(points, metric, k, rng), iterations)
    centres = centres[np.lexsort(centres.T[::-1])]
    labels, _ = _nearest(points, metric, centres)
    return centres, labels.astype(np.int64)

