# SPDX-License-Identifier: MIT
"""A QONNX quantizer's rounding as exact conditions, and qonnx's float32 ``int_quant``.

``Quant`` computes ``q = round(clip(x / scale + zeropt, qmin, qmax))`` (qonnx's ``int_quant``,
in float32) with the node's ``rounding_mode``. :func:`level_condition` states exactly when
``q >= n`` for an integer ``n``: ``y >= t`` or ``y > t`` for ``y = x / scale + zeropt``, so
thresholds built from it by exact rational arithmetic reproduce every tie of the rounding.
"""

from fractions import Fraction

import numpy as np

from ..errors import ModelError

__all__ = ["ROUNDING_MODES", "integer_quant", "int_range", "level_condition"]

ROUNDING_MODES = ("ROUND", "HALF_EVEN", "FLOOR", "CEIL", "DOWN", "UP", "HALF_UP", "HALF_DOWN")

_HALF = Fraction(1, 2)


def int_range(bits, signed, narrow):
    """``(qmin, qmax)`` of a ``bits``-bit quantizer, as qonnx's ``min_int``/``max_int``."""
    if signed:
        return -(2 ** (bits - 1)) + (1 if narrow else 0), 2 ** (bits - 1) - 1
    return 0, 2 ** bits - 1 - (1 if narrow else 0)


def _round(y, mode, where):
    """qonnx's ``resolve_rounding_mode`` on a float32 array."""
    if mode in ("ROUND", "HALF_EVEN"):
        return np.round(y)
    if mode == "FLOOR":
        return np.floor(y)
    if mode == "CEIL":
        return np.ceil(y)
    if mode == "DOWN":
        return np.fix(y)
    if mode == "UP":
        return np.sign(y) * np.ceil(np.abs(y))
    if mode == "HALF_UP":
        return np.sign(y) * np.floor(np.abs(y) + np.float32(0.5))
    if mode == "HALF_DOWN":
        return np.sign(y) * np.ceil(np.abs(y) - np.float32(0.5))
    raise ModelError(f"{where}: rounding mode {mode!r} is not supported; one of "
                     f"{', '.join(ROUNDING_MODES)}")


def integer_quant(x, scale, zeropt, bits, *, signed, narrow, rounding, where):
    """The integers ``q`` (before ``- zeropt``) that qonnx's ``int_quant`` gives a constant
    ``x``: float32 division, clip, then the rounding mode."""
    bits = int(np.asarray(bits).reshape(()))
    x = np.asarray(x, dtype=np.float32)
    y = x / np.asarray(scale, dtype=np.float32) + np.asarray(zeropt, dtype=np.float32)
    if bits == 1 and signed:
        return np.where(y >= 0, 1.0, -1.0)
    lo, hi = int_range(bits, signed, narrow)
    y = np.clip(y, np.float32(lo), np.float32(hi))
    return _round(y, rounding.upper(), where).astype(np.float64)


def level_condition(n, mode, where):
    """``(t, strict)`` such that ``round(y) >= n`` exactly when ``y > t`` (strict) or
    ``y >= t``; ``n`` an integer, ``round`` the rounding mode (ROUND: half to even)."""
    n = int(n)
    if mode in ("ROUND", "HALF_EVEN"):
        return n - _HALF, n % 2 == 1            # a tie n - 1/2 goes to the even neighbour
    if mode == "FLOOR":
        return Fraction(n), False
    if mode == "CEIL":
        return Fraction(n - 1), True
    if mode == "DOWN":                           # toward zero
        return (Fraction(n), False) if n >= 1 else (Fraction(n - 1), True)
    if mode == "UP":                             # away from zero
        return (Fraction(n - 1), True) if n >= 1 else (Fraction(n), False)
    if mode == "HALF_UP":                        # ties away from zero
        return n - _HALF, n <= 0
    if mode == "HALF_DOWN":                      # ties toward zero
        return n - _HALF, n >= 1
    raise ModelError(f"{where}: rounding mode {mode!r} is not supported; one of "
                     f"{', '.join(ROUNDING_MODES)}")
