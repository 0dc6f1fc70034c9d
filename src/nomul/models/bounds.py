# SPDX-License-Identifier: MIT
"""Proven value bounds of a layer's accumulators, from its table contents and biases alone.

Each group of output ``o`` adds one entry of the table column ``weight_index[o][g]``, so
``acc[o]`` lies in ``bias[o] + sum_g [min column, max column]``; a padded conv tap adds 0, so
padded layers widen every column's bounds to include 0. Any adder-tree shape summing a subset of
these terms stays within the partial sums of the same bounds.
"""

import numpy as np

from ..numeric import Bounds
from .spec import Conv

__all__ = ["column_bounds", "output_bounds", "accumulator_bounds", "accumulator_width",
           "entry_width"]


def entry_width(layer):
    """Bits of one product-table entry (two's complement when any entry is negative)."""
    return Bounds.of(layer.table).width


def column_bounds(layer):
    """``(lo, hi)`` arrays ``(M, G)``: the range each group of each output can add."""
    lo = layer.table.min(axis=0)[layer.weight_index]
    hi = layer.table.max(axis=0)[layer.weight_index]
    if isinstance(layer, Conv) and any(layer.padding):
        lo, hi = np.minimum(lo, 0), np.maximum(hi, 0)
    return lo, hi


def output_bounds(layer):
    """One :class:`Bounds` per output channel: ``bias[o] + sum_g column bounds``."""
    lo, hi = column_bounds(layer)
    lows = layer.bias + lo.sum(axis=1)
    highs = layer.bias + hi.sum(axis=1)
    return [Bounds(int(a), int(b)) for a, b in zip(lows, highs, strict=True)]


def accumulator_bounds(layer):
    """Bounds that hold for every accumulator of the layer."""
    bounds = output_bounds(layer)
    return Bounds(min(b.lo for b in bounds), max(b.hi for b in bounds))


def accumulator_width(layer):
    """Bits of the layer's accumulator register (signed when it can go negative)."""
    return accumulator_bounds(layer).width
