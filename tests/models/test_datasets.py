# SPDX-License-Identifier: MIT
"""Offline datasets: the digits split, mnist1d generation and quantization, no network."""

import random
import socket

import numpy as np
import pytest

from nomul.errors import OptionsError
from nomul.models import datasets
from nomul.models.datasets import DATASETS, load_dataset
from nomul.models.spec import InputSpec


class _NoSocket(socket.socket):
    """A socket that records and refuses every attempt (a subclass, so ``ssl`` still imports)."""

    attempts = []

    def __init__(self, *args, **kwargs):
        _NoSocket.attempts.append(("socket", args))
        raise OSError("network access is forbidden in this test")


def _spec(spec):
    """The comparable fields of an input spec (``InputSpec`` compares by identity)."""
    return (spec.shape, spec.raw_min, spec.raw_max, spec.quantizer, spec.thresholds)


def _refuse(name):
    def refuse(*args, **kwargs):
        _NoSocket.attempts.append((name, args))
        raise OSError("network access is forbidden in this test")
    return refuse


@pytest.fixture(scope="module")
def mnist1d(tmp_path_factory):
    """Generate mnist1d into an empty cache with the network blocked, then load it again."""
    # Importing the package imports requests -> urllib3, whose import-time IPv6 probe opens
    # (never connects) a loopback socket; import it first so only the loader runs blocked.
    import mnist1d.data  # noqa: F401

    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        mp.setattr(socket, "socket", _NoSocket)
        mp.setattr(socket, "create_connection", _refuse("create_connection"))
        mp.setattr(socket, "getaddrinfo", _refuse("getaddrinfo"))
        _NoSocket.attempts.clear()
        np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
        first = load_dataset("mnist1d")
        rng_kept = (np.array_equal(np.random.get_state()[1], np_state[1])  # noqa: NPY002
                    and random.getstate() == py_state)
        cached = sorted(p.name for p in (cache / "nomul").iterdir())
        second = load_dataset("mnist1d")
        floats = datasets._mnist1d_float()
        attempts = list(_NoSocket.attempts)
    return {"first": first, "second": second, "floats": floats, "cached": cached,
            "attempts": attempts, "rng_kept": rng_kept}


def test_digits_split():
    d = load_dataset("digits")
    assert d.name == "digits" and d.classes == 10
    assert _spec(d.input) == _spec(InputSpec(shape=(64,), raw_min=0, raw_max=16))
    assert len(d.y_test) == 450 and len(d.y_train) == 1797 - 450
    assert d.x_train.shape == (1347, 64) and d.x_test.shape == (450, 64)
    for a in (d.x_train, d.x_test, d.y_train, d.y_test):
        assert a.dtype == np.int64
    for x in (d.x_train, d.x_test):
        assert x.min() >= 0 and x.max() <= 16
    y = np.concatenate([d.y_train, d.y_test])
    fraction = np.bincount(y, minlength=10) / len(y)
    test_counts = np.bincount(d.y_test, minlength=10)
    assert np.all(np.abs(test_counts - 450 * fraction) <= 1)
    again = load_dataset("digits")
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(d, name), getattr(again, name))
    assert d.split == again.split


def test_mnist1d_no_network(mnist1d):
    assert mnist1d["attempts"] == []
    assert len(mnist1d["cached"]) == 1 and mnist1d["cached"][0].endswith(".npz")


def test_mnist1d_keeps_global_random_state(mnist1d):
    assert mnist1d["rng_kept"]


def test_mnist1d_shapes_and_values(mnist1d):
    d = mnist1d["first"]
    assert d.name == "mnist1d" and d.classes == 10 and "split" in d.split
    assert _spec(d.input) == _spec(InputSpec(shape=(1, 40), raw_min=-128, raw_max=127))
    assert d.x_train.shape == (4000, 1, 40) and d.x_test.shape == (1000, 1, 40)
    assert d.y_train.shape == (4000,) and d.y_test.shape == (1000,)
    for a in (d.x_train, d.x_test, d.y_train, d.y_test):
        assert a.dtype == np.int64
    for x in (d.x_train, d.x_test):
        assert x.min() >= -128 and x.max() <= 127
    for y in (d.y_train, d.y_test):
        assert set(np.unique(y).tolist()) == set(range(10))
    assert d.describe() == {"name": "mnist1d", "split": d.split, "train": 4000, "test": 1000}


def test_mnist1d_quantization(mnist1d):
    d = mnist1d["first"]
    x, y, x_test, y_test = mnist1d["floats"]
    assert np.array_equal(y, d.y_train) and np.array_equal(y_test, d.y_test)
    scale = datasets.MNIST1D_SCALE
    assert scale & (scale - 1) == 0
    for xf, raw in ((x, d.x_train), (x_test, d.x_test)):
        scaled = np.round(xf * scale)
        clipped = np.mean((scaled < -128) | (scaled > 127))
        assert clipped < 1e-3
        assert np.array_equal(raw[:, 0, :], np.clip(scaled, -128, 127).astype(np.int64))
        assert np.mean((raw == -128) | (raw == 127)) < 1e-3
    # the quantization uses the 8-bit range: a coarser scale would leave half of it unused
    raw_all = np.concatenate([d.x_train.ravel(), d.x_test.ravel()])
    assert raw_all.max() - raw_all.min() > 128


def test_mnist1d_deterministic(mnist1d):
    first, second = mnist1d["first"], mnist1d["second"]
    assert first.split == second.split
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    # a fresh generation (no cache) reproduces the cached floats exactly
    fresh = datasets._mnist1d_float(cache=False)
    for a, b in zip(fresh, mnist1d["floats"]):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_mnist1d_corrupt_cache_regenerates(tmp_path, monkeypatch, mnist1d):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = datasets._mnist1d_cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip file")
    monkeypatch.setattr(datasets, "_mnist1d_generate", lambda: mnist1d["floats"])
    floats = datasets._mnist1d_float()
    assert all(np.array_equal(a, b) for a, b in zip(floats, mnist1d["floats"]))
    with np.load(path, allow_pickle=False) as npz:
        assert np.array_equal(npz["x"], mnist1d["floats"][0])


def test_unknown_dataset():
    assert set(DATASETS) >= {"digits", "mnist1d"}
    with pytest.raises(OptionsError, match="unknown dataset"):
        load_dataset("no-such-dataset")
