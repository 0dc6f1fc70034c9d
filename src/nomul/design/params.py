# SPDX-License-Identifier: MIT
"""Parameter checks shared by the plans: plain ints, tuples and bounds, never numpy.

Every plan converts what it is given with these before deriving anything, so a numpy scalar
never reaches Amaranth (which refuses them) and a bad value is a ``TypeError`` or ``ValueError``
naming the parameter.
"""

import operator

from ..numeric import Bounds

__all__ = ["as_int", "as_ints", "as_rows", "as_threshold_rows", "as_bounds", "as_bounds_tuple",
           "as_field", "as_window", "fill"]


def as_int(value, name, *, minimum=None):
    """A plain ``int`` (>= ``minimum`` when given) from an int or numpy integer."""
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value}")
    return value


def as_ints(values, name, *, minimum=None, length=None):
    """A tuple of plain ints from a sequence (not a bare int, not a string)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of integers, not {values!r}")
    values = tuple(as_int(v, f"{name}[{n}]", minimum=minimum) for n, v in enumerate(values))
    if length is not None and len(values) != length:
        raise ValueError(f"{name} must have {length} entries, not {values!r}")
    return values


def as_rows(rows, name, *, same_length=True):
    """A tuple of tuples of plain ints (a table, a matrix, threshold rows)."""
    if isinstance(rows, (str, bytes)) or not hasattr(rows, "__iter__"):
        raise TypeError(f"{name} must be a sequence of rows, not {rows!r}")
    rows = tuple(as_ints(row, f"{name}[{n}]") for n, row in enumerate(rows))
    if same_length and len({len(row) for row in rows}) > 1:
        raise ValueError(f"{name} rows must all have the same length")
    return rows


def as_threshold_rows(rows, name="thresholds"):
    """Threshold rows: at least one, each ascending (ties allowed), all of one length >= 1."""
    rows = as_rows(rows, name)
    if not rows or not rows[0]:
        raise ValueError(f"{name} need at least one row of at least one threshold")
    for j, row in enumerate(rows):
        if list(row) != sorted(row):
            raise ValueError(f"{name}[{j}] must be ascending, not {row!r}")
    return rows


def as_field(value, name):
    """A :class:`~nomul.design.ports.Field` of at least one bit (``TypeError`` otherwise)."""
    from .ports import Field

    if not isinstance(value, Field):
        raise TypeError(f"{name} must be a Field, not {value!r}")
    if value.width < 1:
        raise ValueError(f"{name} must have at least one bit, not {value!r}")
    return value


def as_window(shape, kernel, stride, padding, *, default_stride):
    """A sliding window's geometry over a ``(C, L)`` or ``(C, H, W)`` tensor: ``(shape,
    kernel, stride, padding, out_spatial)`` as plain tuples, the stride defaulting to
    ``default_stride`` (``"kernel"`` or 1) and the padding to 0; a padding smaller than the
    kernel and a kernel that fits the padded input."""
    shape = as_ints(shape, "shape", minimum=1)
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (C, L) or (C, H, W), not {shape!r}")
    dims = len(shape) - 1
    kernel = as_ints(kernel, "kernel", minimum=1, length=dims)
    if stride is None:
        stride = kernel if default_stride == "kernel" else (default_stride,) * dims
    stride = as_ints(stride, "stride", minimum=1, length=dims)
    padding = (0,) * dims if padding is None else as_ints(padding, "padding", minimum=0,
                                                         length=dims)
    if any(p >= k for p, k in zip(padding, kernel)):
        raise ValueError(f"padding {padding!r} must be smaller than the kernel {kernel!r}")
    if any(n + 2 * p < k for n, k, p in zip(shape[1:], kernel, padding)):
        raise ValueError(f"kernel {kernel!r} is larger than the padded input {shape[1:]!r} "
                         f"(padding {padding!r})")
    out_spatial = tuple((n + 2 * p - k) // s + 1
                        for n, k, s, p in zip(shape[1:], kernel, stride, padding))
    return shape, kernel, stride, padding, out_spatial


def fill(plan, **values):
    """Set a frozen plan's fields (its converted parameters and derived values) in its
    ``__post_init__``."""
    for name, value in values.items():
        object.__setattr__(plan, name, value)


def as_bounds(item, name):
    """A :class:`~nomul.numeric.Bounds` from a Bounds or an ``(lo, hi)`` pair of integers."""
    if isinstance(item, Bounds):
        return item
    if isinstance(item, (str, bytes)) or not hasattr(item, "__len__") or len(item) != 2:
        raise TypeError(f"{name} must be a Bounds or an (lo, hi) pair, not {item!r}")
    lo, hi = as_int(item[0], f"{name} lo"), as_int(item[1], f"{name} hi")
    if lo > hi:
        raise ValueError(f"{name} is empty: lo {lo} > hi {hi}")
    return Bounds(lo, hi)


def as_bounds_tuple(items, name):
    """A non-empty tuple of :class:`~nomul.numeric.Bounds` from Bounds or pairs."""
    if isinstance(items, (str, bytes, Bounds)) or not hasattr(items, "__iter__"):
        raise TypeError(f"{name} must be a sequence of (lo, hi) pairs, not {items!r}")
    result = tuple(as_bounds(item, f"{name}[{k}]") for k, item in enumerate(items))
    if not result:
        raise ValueError(f"{name} must not be empty")
    return result
