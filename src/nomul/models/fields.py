# SPDX-License-Identifier: MIT
"""Field validation shared by the model's classes: limits, integer arrays, tuples, metadata.

Every check raises :class:`~nomul.errors.ModelError` naming the field. Used by
:mod:`nomul.models.spec` (the weighted layers, the input and the model), the weightless layer
kinds (:mod:`nomul.models.kinds`) and the model file reader (shape checks before any data is
read).
"""

import json
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError

__all__ = ["LIMITS", "ACTIVATION_KINDS", "QUANTIZER_KINDS", "int_array", "check_ndim",
           "table_rows", "check_weighted_shapes", "check_threshold_shape",
           "check_input_thresholds_shape", "positive_int",
           "int_tuple", "ascending", "json_meta", "json_too_deep", "product"]


@dataclass(frozen=True)
class _Limits:
    """Sanity limits: anything past these is a corrupt or hostile file, not a real network."""

    layers: int = 256
    levels: int = 1 << 16          # activation levels of any tensor (and input identity range)
    table_rows: int = 1 << 20      # A_in ** d
    codewords: int = 1 << 16       # K
    fan_in: int = 1 << 20          # inputs per output
    elements: int = 1 << 24        # elements of any tensor
    weights: int = 1 << 24         # weight-index entries of one layer (int64: array_bytes)
    table_abs: int = 1 << 40       # |table entry|: fan_in * table_abs + bias_abs < 2**63
    bias_abs: int = 1 << 50
    threshold_abs: int = 1 << 62
    raw_abs: int = 1 << 31         # |raw input value|
    # A model file is read within these (so a small hostile file costs at most a few hundred
    # MB: the int64 arrays, one narrower copy as stored, and the parsed header).
    header_bytes: int = 1 << 22    # the model file's JSON header
    json_depth: int = 64           # nesting of metadata (lists and objects)
    array_bytes: int = 1 << 27     # int64 bytes of one array, and of all arrays of a model
    file_bytes: int = 1 << 28      # a model file (array_bytes + header_bytes, with room)
    zip_directory_bytes: int = 1 << 20   # a model file's zip central directory


LIMITS = _Limits()

ACTIVATION_KINDS = ("thresholds", "argmax", "raw")
QUANTIZER_KINDS = ("identity", "thresholds")


def int_array(value, name, *, ndim=None, lo=None, hi=None):
    """Convert to a read-only int64 array, rejecting floats, objects, NaN and out-of-range.

    The dtype, the number of dimensions and the size are checked before anything is converted,
    so a huge array is refused before its int64 copy is made.
    """
    array = np.asarray(value)
    if array.dtype == np.bool_ or array.dtype.kind not in "iu":
        if array.dtype.kind == "f" and array.size and not np.all(np.isfinite(array)):
            raise ModelError(f"{name}: contains NaN or infinity (dtype {array.dtype})")
        if array.dtype.kind == "f" and array.size == 0:
            array = array.astype(np.int64)
        else:
            raise ModelError(f"{name}: must hold integers, not dtype {array.dtype}")
    if ndim is not None:
        check_ndim(array.shape, name, ndim)
    if array.size > LIMITS.array_bytes // 8:
        raise ModelError(f"{name}: {array.size} entries exceed the limit "
                         f"{LIMITS.array_bytes // 8}")
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise ModelError(f"{name}: value {int(array.max())} does not fit int64")
    array = np.array(array, dtype=np.int64, copy=True)
    if array.size:
        if lo is not None and array.min() < lo:
            raise ModelError(f"{name}: value {int(array.min())} is below the minimum {lo}")
        if hi is not None and array.max() > hi:
            raise ModelError(f"{name}: value {int(array.max())} is above the maximum {hi}")
    array.setflags(write=False)
    return array


def check_ndim(shape, name, ndim):
    if len(shape) not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ModelError(f"{name}: must have {ndim} dimension(s), not shape {tuple(shape)}")


def table_rows(in_levels, group):
    """Validated ``(in_levels, group, in_levels ** group)`` of a weighted layer.

    Raises :class:`ModelError` naming ``in_levels``, ``group`` or ``table`` (too many rows).
    """
    in_levels = positive_int(in_levels, "in_levels", minimum=2, limit=LIMITS.levels)
    group = positive_int(group, "group", limit=64)
    rows = in_levels ** group
    if rows > LIMITS.table_rows:
        raise ModelError(f"table: {in_levels}**{group} = {rows} rows exceeds the limit "
                         f"{LIMITS.table_rows}")
    return in_levels, group, rows


def check_weighted_shapes(rows, group, table, weight_index, bias):
    """The shape rules of a weighted layer's arrays, on shapes alone (nothing is converted).

    Parameters
    ----------
    rows, group : int
        Table rows ``in_levels ** group`` and the group, from :func:`table_rows`.
    table, weight_index, bias : tuple of int
        The arrays' shapes: ``(rows, K)`` with ``2 <= K <= LIMITS.codewords``, ``(M, G)``
        within ``LIMITS.weights``, ``LIMITS.fan_in`` and ``LIMITS.elements``, and ``(M,)``.

    Raises
    ------
    ModelError
        Naming ``table``, ``weight_index`` or ``bias``.
    """
    table, weight_index, bias = tuple(table), tuple(weight_index), tuple(bias)
    check_ndim(table, "table", 2)
    if table[0] != rows:
        raise ModelError(f"table: has {table[0]} rows, expected in_levels**group = {rows}")
    if not 2 <= table[1] <= LIMITS.codewords:
        raise ModelError(f"table: needs 2 to {LIMITS.codewords} codeword columns, "
                         f"not {table[1]}")
    check_ndim(weight_index, "weight_index", 2)
    outputs, groups = weight_index
    if outputs < 1 or groups < 1:
        raise ModelError(f"weight_index: empty shape {weight_index}")
    if outputs * groups > LIMITS.weights:
        raise ModelError(f"weight_index: {outputs * groups} entries exceed the limit "
                         f"{LIMITS.weights}")
    if groups * group > LIMITS.fan_in:
        raise ModelError(f"weight_index: fan-in {groups * group} exceeds the limit "
                         f"{LIMITS.fan_in}")
    if outputs > LIMITS.elements:
        raise ModelError(f"weight_index: {outputs} outputs exceed the limit {LIMITS.elements}")
    check_ndim(bias, "bias", 1)
    if bias[0] != outputs:
        raise ModelError(f"bias: has {bias[0]} entries for {outputs} outputs")


def check_threshold_shape(shape, name, *, per_output=True, outputs=None):
    """Thresholds ``(T,)``, or ``(M, T)`` when ``per_output``, with ``1 <= T < LIMITS.levels``.

    ``outputs`` (``M``), when known, must match the rows of per-output thresholds. Shapes
    only: raises :class:`ModelError` naming ``name`` before any data is converted.
    """
    shape = tuple(shape)
    check_ndim(shape, name, (1, 2) if per_output else 1)
    if not 1 <= shape[-1] < LIMITS.levels:
        raise ModelError(f"{name}: need 1 to {LIMITS.levels - 1} thresholds per output, "
                         f"not shape {shape}")
    if outputs is not None and len(shape) == 2 and shape[0] != outputs:
        raise ModelError(f"{name}: per-output thresholds have {shape[0]} rows for "
                         f"{outputs} outputs")


def check_input_thresholds_shape(shape, elements=None):
    """Input thresholds ``(T,)`` shared or ``(E, T)`` per input element; ``elements`` (``E``),
    when known, must match the rows. Shapes only, before any data is converted."""
    check_threshold_shape(shape, "input.thresholds", per_output=True)
    if elements is not None and len(shape) == 2 and shape[0] != elements:
        raise ModelError(f"input.thresholds: per-feature thresholds have {shape[0]} rows for "
                         f"{elements} input elements")


def positive_int(value, name, *, limit=None, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ModelError(f"{name}: must be an integer, not {value!r}")
    value = int(value)
    if value < minimum:
        raise ModelError(f"{name}: must be >= {minimum}, not {value}")
    if limit is not None and value > limit:
        raise ModelError(f"{name}: {value} exceeds the limit {limit}")
    return value


def int_tuple(value, name, *, length=None, minimum=1):
    try:
        items = tuple(value)
    except TypeError:
        raise ModelError(f"{name}: must be a sequence of integers, not {value!r}") from None
    if length is not None and len(items) != length:
        raise ModelError(f"{name}: must have {length} entries, not {len(items)}")
    return tuple(
        positive_int(v, f"{name}[{i}]", minimum=minimum, limit=LIMITS.elements)
        for i, v in enumerate(items)
    )


def ascending(array, name):
    """Thresholds must be non-decreasing along the last axis."""
    if array.shape[-1] > 1 and np.any(np.diff(array, axis=-1) < 0):
        raise ModelError(f"{name}: thresholds must be ascending")


def json_meta(meta, name):
    """Metadata must round-trip through strict JSON (no NaN or infinities, string keys)."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ModelError(f"{name}: must be a JSON object, not {type(meta).__name__}")
    if json_too_deep(meta, LIMITS.json_depth):
        raise ModelError(f"{name}: nested deeper than {LIMITS.json_depth} levels")
    try:
        text = json.dumps(meta, allow_nan=False, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as error:
        raise ModelError(f"{name}: not valid JSON ({error})") from None
    return json.loads(text)


def json_too_deep(value, limit):
    """Whether lists, tuples and dicts nest more than ``limit`` levels (iterative: a value too
    deep for recursion is answered, not raised on)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def product(values):
    return math.prod(int(v) for v in values)
