# SPDX-License-Identifier: MIT
"""Offline, deterministic datasets as raw integer samples with their input spec.

- ``digits``: scikit-learn's bundled 8x8 digits (1797 samples); the pixels 0..16 are the input
  indices (identity quantizer); a fixed stratified split keeps 450 samples for test
  (``train_test_split(test_size=450, stratify=y, random_state=0)``).
"""

from dataclasses import dataclass

import numpy as np

from ..errors import OptionsError
from .spec import InputSpec

__all__ = ["Dataset", "load_dataset", "DATASETS"]

DIGITS_TEST_SIZE = 450
SPLIT_SEED = 0


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


DATASETS = {"digits": _digits}


def load_dataset(name):
    """The named dataset; unknown names are an :class:`OptionsError`."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise OptionsError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") \
            from None
    return loader()
