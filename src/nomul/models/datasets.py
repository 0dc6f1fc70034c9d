# SPDX-License-Identifier: MIT
"""Offline, deterministic datasets as raw integer samples with their input spec.

- ``digits``: scikit-learn's bundled 8x8 digits (1797 samples); the pixels 0..16 are the input
  indices (identity quantizer); a fixed stratified split keeps 450 samples for test
  (``train_test_split(test_size=450, stratify=y, random_state=0)``).
- ``mnist1d``: the MNIST-1D dataset, generated locally by the ``mnist1d`` package's own
  generator (``mnist1d.data.make_dataset``) with the package's default arguments
  (``get_dataset_args()``: 5000 samples, ``train_split=0.8``, the package templates and noise)
  and the fixed seed ``MNIST1D_SEED = 42`` (the package default). Nothing is downloaded and no
  pickle is read: ``get_dataset`` (which fetches a pickle from GitHub) is never called. The
  split is the package's own: the first 4000 shuffled samples train, the last 1000 test.
  The input is one channel of 40 samples, ``(1, 40)``. The generator's float signal
  (standardized: mean 0, std 1) is quantized to signed 8 bits by
  ``raw = clip(round(x * MNIST1D_SCALE), -128, 127)`` with ``MNIST1D_SCALE = 32``: with
  mnist1d 0.0.2.post1 the measured float range is -5.479..4.534 (99.9th percentile of
  ``|x|`` 3.74), so 58 of the 200000 values (0.029 %) clip; 16 would clip none but halve the
  resolution, 64 would clip 6.2 %. The identity quantizer maps ``-128..127`` to the input.
  Generation takes about 2.5 s (plus about 2 s to import the package), so the float arrays are
  cached as ``$XDG_CACHE_HOME/nomul/mnist1d-<version>-<key>.npz`` (default
  ``~/.cache/nomul/``, ``allow_pickle=False``), keyed by the mnist1d, numpy and scipy versions
  and the seed (the default arguments are fixed by the package version). The generator seeds
  numpy's and Python's global random state; both are restored afterwards.
"""

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OptionsError
from .spec import InputSpec

__all__ = ["Dataset", "load_dataset", "DATASETS"]

DIGITS_TEST_SIZE = 450
SPLIT_SEED = 0
MNIST1D_SEED = 42
MNIST1D_SCALE = 32
MNIST1D_LENGTH = 40


@dataclass(frozen=True, eq=False)
class Dataset:
    """Raw integer samples ``(B, *input.shape)`` and labels for a fixed train/test split."""

    name: str
    input: InputSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int
    split: str

    def reshaped(self, shape):
        """The same samples read (C order) as ``shape``, e.g. 64 pixels as (1, 8, 8)."""
        shape = tuple(int(n) for n in shape)
        if shape == self.input.shape:
            return self
        if math.prod(shape) != self.input.elements:
            raise OptionsError(f"{self.name} samples have {self.input.elements} elements, not "
                               f"{math.prod(shape)} as in shape {shape}")
        spec = dataclasses.replace(self.input, shape=shape)
        return dataclasses.replace(
            self, input=spec, x_train=self.x_train.reshape(len(self.x_train), *shape),
            x_test=self.x_test.reshape(len(self.x_test), *shape))

    def describe(self):
        return {"name": self.name, "split": self.split, "train": int(len(self.y_train)),
                "test": int(len(self.y_test))}


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.data.astype(np.int64)
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, stratify=y, random_state=SPLIT_SEED)
    return Dataset("digits", InputSpec(shape=(64,), raw_min=0, raw_max=16), x_train, y_train,
                   x_test, y_test, 10,
                   f"stratified test_size={DIGITS_TEST_SIZE} random_state={SPLIT_SEED}")


def _mnist1d_key():
    """Cache identity: package versions that determine the generated floats, and the seed."""
    from importlib.metadata import version

    versions = {pkg: version(pkg) for pkg in ("mnist1d", "numpy", "scipy")}
    blob = json.dumps({"versions": versions, "seed": MNIST1D_SEED, "args": "package defaults"},
                      sort_keys=True)
    return versions["mnist1d"], hashlib.sha256(blob.encode()).hexdigest()[:16]


def _mnist1d_cache_path():
    mnist1d_version, key = _mnist1d_key()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "nomul" / f"mnist1d-{mnist1d_version}-{key}.npz"


def _mnist1d_generate():
    """Run the package's generator offline; returns float ``(x, y, x_test, y_test)``."""
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = MNIST1D_SEED
    # the generator seeds the global random states; restore them for the caller
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    try:
        data = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
    return (np.asarray(data["x"], dtype=np.float64), np.asarray(data["y"], dtype=np.int64),
            np.asarray(data["x_test"], dtype=np.float64),
            np.asarray(data["y_test"], dtype=np.int64))


def _mnist1d_valid(arrays):
    x, y, x_test, y_test = arrays
    return (x.ndim == 2 and x_test.ndim == 2 and x.shape[1] == x_test.shape[1] == MNIST1D_LENGTH
            and y.shape == (len(x),) and y_test.shape == (len(x_test),)
            and bool(np.all(np.isfinite(x))) and bool(np.all(np.isfinite(x_test))))


def _mnist1d_float(cache=True):
    """The generated float signals ``(x, y, x_test, y_test)``, from the cache when possible."""
    import zipfile

    path = _mnist1d_cache_path() if cache else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = (npz["x"].astype(np.float64), npz["y"].astype(np.int64),
                          npz["x_test"].astype(np.float64), npz["y_test"].astype(np.int64))
            if _mnist1d_valid(arrays):
                return arrays
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # corrupt or foreign cache file: regenerate and overwrite it
    arrays = _mnist1d_generate()
    if path is not None:
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            x, y, x_test, y_test = arrays
            np.savez(tmp, x=x, y=y, x_test=x_test, y_test=y_test)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)  # an unwritable cache only costs regeneration time
    return arrays


def _mnist1d_quantize(x):
    """Float signals ``(B, 40)`` to raw signed 8-bit integers ``(B, 1, 40)`` (int64)."""
    raw = np.clip(np.round(x * MNIST1D_SCALE), -128, 127).astype(np.int64)
    return raw.reshape(len(x), 1, MNIST1D_LENGTH)


def _mnist1d():
    x, y, x_test, y_test = _mnist1d_float()
    return Dataset("mnist1d", InputSpec(shape=(1, MNIST1D_LENGTH), raw_min=-128, raw_max=127),
                   _mnist1d_quantize(x), y, _mnist1d_quantize(x_test), y_test, 10,
                   f"mnist1d package split (train_split=0.8): first {len(y)} train, "
                   f"last {len(y_test)} test (seed={MNIST1D_SEED})")


DATASETS = {"digits": _digits, "mnist1d": _mnist1d}


def load_dataset(name):
    """The named dataset; unknown names are an :class:`OptionsError`."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise OptionsError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") \
            from None
    return loader()
