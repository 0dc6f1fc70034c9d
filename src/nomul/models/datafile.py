# SPDX-License-Identifier: MIT
"""Your own data: samples from a ``.npz`` or ``.csv`` file, checked, as raw integer codes.

Formats (:func:`read_data`):

- ``.npz`` (read with ``allow_pickle=False``): ``x_train``, ``y_train``, ``x_test``, ``y_test``
  (the file's own split), or ``x``, ``y`` split here. ``x`` is ``(B, features)`` or
  ``(B, *shape)`` with 1 to 3 dimensions per sample (channels first, as nomul's tensors);
  ``y`` is ``(B,)``.
- ``.csv``: one sample per line, the features then the label in the last column; a first line
  whose features do not all read as numbers is a header. Split here.

The split made here is fixed: ``sklearn.model_selection.train_test_split(test_size=0.25,
stratify=y, random_state=0)`` (:data:`SPLIT`); for scikit-learn's 8x8 digits saved as ``x``,
``y`` it is the bundled ``digits`` dataset's split.

Labels are the integers ``0..C-1``, or strings (or any other values as text in a ``.csv``)
mapped to ``0..C-1`` in sorted order; the names are kept (:attr:`DataFile.labels`) and stored
in a model trained on the file. Integer labels that are not ``0..C-1`` are refused (a missing
class is a defect of the file, not something to renumber silently).

Features (:func:`load_data`) become the raw integer codes the hardware sees:

- **integer data** (every value integral): used as they are, ``|raw| <= LIMITS.raw_abs``;
- **float data**: per feature ``j``, ``raw = clip(round(x * scale[j]), -128, 127)`` with
  ``scale[j] = 2**floor(log2(127 / max|x_j|))`` over the training split (a power of two: the
  feature as a signed 8-bit fixed-point number, as a sensor would deliver it; a feature that
  is 0 everywhere has scale 1). ``round`` is numpy's (half to even). The scales are stored in
  the model (``meta.dataset.scale``) and reapplied by ``eval`` and ``sim`` to the file they
  are given, so a model always sees its data as it was trained.

The input quantizer of a data file (:func:`input_quantizer`): integer data spanning at most
:data:`IDENTITY_MAX_LEVELS` codes is its own index (identity, like the digits pixels) unless
input levels are asked for; otherwise every feature gets its own thresholds
(``InputSpec`` thresholds ``int[E][L-1]``), ``L`` levels evenly spaced over that feature's
training range: ``t[j][k] = ceil(lo_j + k * (hi_j - lo_j) / L)``, ``k = 1..L-1``; level ``k``
stands for the float value ``k / (L - 1)`` (each feature min-max normalized, by comparisons
alone). A constant feature is always level 0.

Every defect (unreadable file, pickled or non-numeric arrays, NaN or infinity, wrong shapes,
one class, labels not ``0..C-1``, sizes past the limits) is one :class:`~nomul.errors.OptionsError`
line naming the file and what is wrong, raised before any training.
"""

import csv
import hashlib
import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OptionsError
from .fields import LIMITS
from .spec import InputSpec

__all__ = ["DataFile", "read_data", "load_data", "input_quantizer", "SPLIT",
           "IDENTITY_MAX_LEVELS", "DEFAULT_INPUT_LEVELS", "MAX_FILE_BYTES"]

SPLIT = "stratified test_size=0.25 random_state=0"
TEST_SIZE = 0.25
SPLIT_SEED = 0
IDENTITY_MAX_LEVELS = 32          # integer data spanning more codes gets per-feature levels
DEFAULT_INPUT_LEVELS = 16
FLOAT_CODE_MAX = 127              # float features become signed 8-bit codes
MAX_FILE_BYTES = 1 << 30          # a data file (or an npz member, inflated) past 1 GiB
MAX_CLASSES = 1000


@dataclass(frozen=True, eq=False)
class DataFile:
    """The samples of a data file as written: ``x_*`` float64 ``(B, *shape)``, ``y_*`` int64
    ``0..C-1``; ``labels`` the class names (strings) or None for integer labels; ``integer``
    true when every feature value is integral; ``sha256`` of the file's bytes."""

    name: str
    path: str
    sha256: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int
    labels: tuple | None
    integer: bool
    split: str

    @property
    def shape(self):
        return tuple(self.x_train.shape[1:])


def _fail(path, message):
    raise OptionsError(f"{path}: {message}")


def read_data(path, *, labels=None):
    """The checked samples of the ``.npz`` or ``.csv`` file at ``path`` (see the module).

    ``labels``: class names a model was trained with; string labels are then mapped by them
    (a label the model does not know is an error) instead of by the file's own sorted set.
    """
    path = Path(path)
    if not path.is_file():
        _fail(path, "no such file" if not path.exists() else "not a file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        _fail(path, f"{size} bytes is past the limit of {MAX_FILE_BYTES} bytes")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix == ".npz":
        parts, split = _read_npz(path, data)
    elif suffix == ".csv":
        parts, split = _read_csv(path, data), None
    else:
        _fail(path, f"unknown data format {suffix or '(no suffix)'}; give a .npz or .csv file")
    if split is None:
        x, y = parts
        y, names = _labels(path, y, labels)
        x_train, x_test, y_train, y_test = _split(path, _features(path, x, "x"), y)
        split = SPLIT
    else:
        x_train, y_train, x_test, y_test = parts
        (y_train, y_test), names = _labels_pair(path, y_train, y_test, labels)
        x_train = _features(path, x_train, "x_train")
        x_test = _features(path, x_test, "x_test")
        if x_train.shape[1:] != x_test.shape[1:]:
            _fail(path, f"x_train samples have shape {x_train.shape[1:]}, x_test "
                  f"{x_test.shape[1:]}")
        split = "the file's own split (x_train, x_test)"
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            _fail(path, f"{len(x)} {name} samples but {len(y)} labels")
        if len(x) == 0:
            _fail(path, f"no {name} samples")
    classes = int(max(y_train.max(), y_test.max())) + 1 if names is None else len(names)
    if classes < 2 or len(np.unique(y_train)) < 2:
        _fail(path, "the training samples hold one class; a classifier needs at least 2")
    integer = bool(np.all(x_train == np.round(x_train)) and np.all(x_test == np.round(x_test)))
    return DataFile(name=path.stem, path=str(path), sha256=digest, x_train=x_train,
                    y_train=y_train, x_test=x_test, y_test=y_test, classes=classes,
                    labels=names, integer=integer, split=split)


# -- reading ----------------------------------------------------------------------------------

def _read_npz(path, data):
    """``((x, y), None)`` or ``((x_train, y_train, x_test, y_test), "own")`` from the file's
    bytes ``data`` (read once, for its hash too)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
        if inflated > MAX_FILE_BYTES:
            _fail(path, f"its arrays inflate to {inflated} bytes, past the limit of "
                  f"{MAX_FILE_BYTES} bytes")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names = set(npz.files)
            four = ("x_train", "y_train", "x_test", "y_test")
            if set(four) <= names:
                return tuple(_array(path, npz, name) for name in four), "own"
            if {"x", "y"} <= names:
                return (_array(path, npz, "x"), _array(path, npz, "y")), None
    except OptionsError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        _fail(path, f"not a readable .npz file ({_first_line(error)})")
    _fail(path, f"holds {', '.join(sorted(names)) or 'no arrays'}; a data file needs x_train, "
          f"y_train, x_test, y_test, or x and y")


def _array(path, npz, name):
    try:
        return npz[name]
    except ValueError as error:          # object arrays: refused without unpickling
        _fail(path, f"{name}: cannot be read without unpickling ({_first_line(error)})")


def _first_line(error):
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _read_csv(path, data):
    """``(x, y)`` of a CSV file: features float64 ``(B, F)``, labels as strings ``(B,)``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        _fail(path, "not a UTF-8 text file")
    rows = [row for row in csv.reader(text.splitlines()) if any(cell.strip() for cell in row)]
    if not rows:
        _fail(path, "no samples")
    if not _numeric(rows[0][:-1]):
        rows = rows[1:]                  # a header line
        if not rows:
            _fail(path, "a header and no samples")
    width = len(rows[0])
    if width < 2:
        _fail(path, "needs at least one feature column and the label column")
    features = np.empty((len(rows), width - 1), dtype=np.float64)
    labels = []
    for number, row in enumerate(rows, 1):
        if len(row) != width:
            _fail(path, f"sample {number} has {len(row)} columns, the first {width}")
        for column, cell in enumerate(row[:-1]):
            try:
                features[number - 1, column] = float(cell)
            except ValueError:
                _fail(path, f"sample {number}, column {column + 1}: {cell.strip()!r} is not "
                      f"a number")
        labels.append(row[-1].strip())
    return features, np.array(labels)


def _numeric(cells):
    try:
        for cell in cells:
            float(cell)
    except ValueError:
        return False
    return True


# -- checking ---------------------------------------------------------------------------------

def _features(path, x, name):
    x = np.asarray(x)
    if x.dtype.kind not in "iubf":
        _fail(path, f"{name}: features must be numbers, not {x.dtype}")
    if x.dtype.kind == "b":
        x = x.astype(np.int64)
    if not 2 <= x.ndim <= 4:
        _fail(path, f"{name}: shape {x.shape}; samples must be (B, features) or (B, *shape) "
              f"with 1 to 3 dimensions")
    if math.prod(x.shape[1:]) > LIMITS.elements or math.prod(x.shape[1:]) == 0:
        _fail(path, f"{name}: {math.prod(x.shape[1:])} features per sample; 1 to "
              f"{LIMITS.elements} allowed")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        _fail(path, f"{name}: sample {bad[0]} holds {x[tuple(bad)]} (NaN or infinity)")
    return x


def _labels(path, y, known):
    """Labels as int64 ``0..C-1`` and the class names (None for integer labels)."""
    y = np.asarray(y)
    if y.ndim != 1:
        _fail(path, f"labels: shape {y.shape}; must be one label per sample (B,)")
    if y.dtype.kind in "iu" or (y.dtype.kind == "f" and np.all(np.isfinite(y))
                                and np.all(y == np.round(y))):
        return _integer_labels(path, y.astype(np.int64)), None
    if y.dtype.kind == "f":
        _fail(path, "labels: must be integers 0..C-1 or class names, not fractions or NaN")
    if y.dtype.kind not in "US":
        _fail(path, f"labels: must be integers 0..C-1 or class names, not {y.dtype}")
    text = y.astype(str)
    if known is None and all(_is_int(v) for v in text):   # a CSV's numeric label column
        return _integer_labels(path, np.array([int(v) for v in text], dtype=np.int64)), None
    names = tuple(known) if known is not None else tuple(sorted(set(text.tolist())))
    if len(names) > MAX_CLASSES:
        _fail(path, f"labels: {len(names)} classes; at most {MAX_CLASSES}")
    index = {name: n for n, name in enumerate(names)}
    unknown = sorted(set(text.tolist()) - set(index))
    if unknown:
        _fail(path, f"labels: {unknown[0]!r} is not a class of the model "
              f"({', '.join(names)})")
    return np.array([index[v] for v in text.tolist()], dtype=np.int64), names


def _is_int(text):
    try:
        int(text)
    except ValueError:
        return False
    return True


def _integer_labels(path, y):
    if y.size and (y.min() < 0 or y.max() >= MAX_CLASSES):
        _fail(path, f"labels: {int(y.min() if y.min() < 0 else y.max())} is not a class "
              f"0..C-1 (give labels 0..C-1, or class names to map)")
    present = np.unique(y)
    classes = int(y.max()) + 1 if y.size else 0
    if len(present) != classes:
        missing = sorted(set(range(classes)) - set(present.tolist()))
        _fail(path, f"labels: classes must be 0..{classes - 1} and class {missing[0]} has no "
              f"sample (give labels 0..C-1, or class names to map)")
    return y


def _labels_pair(path, y_train, y_test, known):
    """Train and test labels mapped together (one class numbering for both)."""
    both = np.concatenate([np.asarray(y_train), np.asarray(y_test)]) \
        if np.asarray(y_train).dtype.kind == np.asarray(y_test).dtype.kind else None
    if both is None:
        _fail(path, "y_train and y_test hold labels of different kinds")
    mapped, names = _labels(path, both, known)
    return (mapped[:len(y_train)], mapped[len(y_train):]), names


def _split(path, x, y):
    from sklearn.model_selection import train_test_split

    if len(x) != len(y):
        _fail(path, f"{len(x)} samples but {len(y)} labels")
    counts = np.bincount(y)
    if len(counts) < 2 or np.count_nonzero(counts) < 2:
        _fail(path, "the samples hold one class; a classifier needs at least 2")
    if counts.min() < 2:
        _fail(path, f"class {int(np.argmin(counts))} has {int(counts.min())} sample; a "
              f"stratified split needs at least 2 per class (or give x_train and x_test)")
    try:
        return train_test_split(x, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED)
    except ValueError as error:
        _fail(path, f"cannot split ({_first_line(error)}); give x_train and x_test")


# -- raw codes --------------------------------------------------------------------------------

def feature_scale(x_train):
    """Per feature, the power of two that makes it a signed 8-bit code (see the module)."""
    peak = np.max(np.abs(x_train.reshape(len(x_train), -1)), axis=0)
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log2(FLOAT_CODE_MAX / np.where(peak > 0, peak, 1.0)))
    return np.where(peak > 0, np.ldexp(1.0, exponent.astype(np.int64)), 1.0)


def raw_codes(x, scale):
    """Float samples ``(B, *shape)`` as raw codes with per-feature ``scale`` (``None``: the
    integer data itself)."""
    if scale is None:
        return x.astype(np.int64)
    flat = x.reshape(len(x), -1) * scale[None, :]
    return np.clip(np.round(flat), -FLOAT_CODE_MAX - 1, FLOAT_CODE_MAX).astype(
        np.int64).reshape(x.shape)


def input_quantizer(shape, raw_train, raw_range, levels=None):
    """``(InputSpec, float value of each index)`` of data with these raw training codes (see
    the module): identity for a narrow integer range, else per-feature thresholds fitted to
    the training codes. ``raw_range`` is ``(raw_min, raw_max)``, the codes the input takes."""
    lo, hi = raw_range
    if levels is None and hi - lo + 1 <= IDENTITY_MAX_LEVELS:
        span = max(abs(lo), abs(hi), 1)
        return InputSpec(shape=shape, raw_min=lo, raw_max=hi), (np.arange(lo, hi + 1) / span)
    levels = DEFAULT_INPUT_LEVELS if levels is None else int(levels)
    if not 2 <= levels <= LIMITS.levels:
        raise OptionsError(f"input levels must be 2 to {LIMITS.levels}, not {levels}")
    flat = raw_train.reshape(len(raw_train), -1)
    low, high = flat.min(axis=0).astype(np.int64), flat.max(axis=0).astype(np.int64)
    steps = np.arange(1, levels)
    # ceil(lo + k (hi - lo) / L) in integers: lo + ceil(k (hi - lo) / L)
    thresholds = low[:, None] + -(-(steps[None, :] * (high - low)[:, None]) // levels)
    constant = high == low                      # always level 0: thresholds above the range
    thresholds[constant] = hi + 1
    spec = InputSpec(shape=shape, raw_min=lo, raw_max=hi, quantizer="thresholds",
                     thresholds=thresholds)
    return spec, np.arange(levels) / (levels - 1)


def load_data(path, *, input_levels=None, model=None):
    """The data file at ``path`` as a :class:`~nomul.models.datasets.Dataset` of raw codes.

    ``model``: an integer model trained on a data file: its stored scales, class names and
    input spec are used (the file may differ from the one it was trained on, e.g. new
    recordings), and its sample shape must match. Otherwise the scales and the input
    quantizer (``input_levels``) are made from this file's training split.
    """
    from .datasets import Dataset

    recorded = (model.meta.get("dataset") or {}) if model is not None else {}
    source = read_data(path, labels=recorded.get("labels"))
    if model is not None:
        scale = recorded.get("scale")
        scale = None if scale is None else np.asarray(scale, dtype=np.float64)
        if scale is None and not source.integer:
            _fail(path, "holds fractional features; the model was trained on integer codes")
        if scale is not None and scale.size != math.prod(source.shape):
            _fail(path, f"samples have {math.prod(source.shape)} features, the model's "
                  f"scaling {scale.size}")
    else:
        scale = None if source.integer else feature_scale(source.x_train)
    if scale is None:                   # integer codes as they are: bounded before converting
        for x in (source.x_train, source.x_test):
            if np.abs(x).max() > LIMITS.raw_abs:
                _fail(path, f"feature value {np.abs(x).max():.6g} is past the raw code limit "
                      f"{LIMITS.raw_abs}")
    x_train, x_test = raw_codes(source.x_train, scale), raw_codes(source.x_test, scale)
    if model is not None:
        spec, values = model.input, None
        if math.prod(source.shape) != spec.elements:
            _fail(path, f"samples have {math.prod(source.shape)} features, the model's input "
                  f"{spec.elements} (shape {spec.shape})")
        x_train = x_train.reshape(len(x_train), *spec.shape)      # read in C order
        x_test = x_test.reshape(len(x_test), *spec.shape)
    else:
        raw_range = (-FLOAT_CODE_MAX - 1, FLOAT_CODE_MAX) if scale is not None else \
            (int(min(x_train.min(), x_test.min())), int(max(x_train.max(), x_test.max())))
        spec, values = input_quantizer(source.shape, x_train, raw_range, input_levels)
    return Dataset(name=source.name, input=spec, x_train=x_train, y_train=source.y_train,
                   x_test=x_test, y_test=source.y_test, classes=source.classes,
                   split=source.split, input_values=values, scale=scale, source=source)


def describe(dataset):
    """What a model trained on a data file records of it (``meta.dataset``)."""
    source = dataset.source
    return {"name": source.name, "file": Path(source.path).name, "sha256": source.sha256,
            "split": source.split, "train": int(len(source.y_train)),
            "test": int(len(source.y_test)), "classes": source.classes,
            "labels": None if source.labels is None else list(source.labels),
            "scale": None if dataset.scale is None else [float(s) for s in dataset.scale]}
