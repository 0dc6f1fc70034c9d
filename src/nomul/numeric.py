# SPDX-License-Identifier: MIT
"""Widths and bounds of integer quantities, proven from value ranges (never guessed).

Every hardware width in nomul comes from a :class:`Bounds`: the closed integer interval a value
can take. Sums of bounded values have bounded sums, so adder-tree nodes and accumulators are sized
from the table contents and biases alone. Imports nothing heavy.
"""

from dataclasses import dataclass

__all__ = ["Bounds", "signed_width", "unsigned_width", "index_width", "sum_bounds"]


def unsigned_width(hi):
    """Bits of an unsigned number that holds 0..``hi`` (at least 1)."""
    hi = int(hi)
    if hi < 0:
        raise ValueError(f"unsigned_width needs hi >= 0, not {hi}")
    return max(1, hi.bit_length())


def signed_width(lo, hi):
    """Bits of a two's-complement number that holds every integer in ``lo..hi`` (at least 1)."""
    lo, hi = int(lo), int(hi)
    if lo > hi:
        raise ValueError(f"empty range {lo}..{hi}")
    # n bits hold -2**(n-1) .. 2**(n-1)-1
    low = (-lo - 1).bit_length() + 1 if lo < 0 else 1
    high = hi.bit_length() + 1 if hi >= 0 else 1
    return max(low, high)


def index_width(levels):
    """Bits of an activation index that takes ``levels`` values 0..levels-1."""
    levels = int(levels)
    if levels < 1:
        raise ValueError(f"levels must be >= 1, not {levels}")
    return unsigned_width(levels - 1)


@dataclass(frozen=True)
class Bounds:
    """Closed integer interval ``lo..hi`` of a hardware value.

    ``width``/``signed`` give the smallest two's-complement (or, when ``lo >= 0``, unsigned)
    representation; ``a + b`` bounds the sum of two such values.
    """

    lo: int
    hi: int

    def __post_init__(self):
        object.__setattr__(self, "lo", int(self.lo))
        object.__setattr__(self, "hi", int(self.hi))
        if self.lo > self.hi:
            raise ValueError(f"empty bounds {self.lo}..{self.hi}")

    @classmethod
    def of(cls, values):
        """Bounds of an iterable (or numpy array) of integers."""
        values = [int(v) for v in (values.ravel() if hasattr(values, "ravel") else values)]
        return cls(min(values), max(values))

    @property
    def signed(self):
        return self.lo < 0

    @property
    def width(self):
        return signed_width(self.lo, self.hi) if self.signed else unsigned_width(self.hi)

    def __add__(self, other):
        if isinstance(other, int):
            other = Bounds(other, other)
        return Bounds(self.lo + other.lo, self.hi + other.hi)

    __radd__ = __add__

    def union(self, other):
        return Bounds(min(self.lo, other.lo), max(self.hi, other.hi))

    def contains(self, value):
        return self.lo <= int(value) <= self.hi


def sum_bounds(terms, start=0):
    """Bounds of ``start + sum(terms)`` for an iterable of :class:`Bounds` (or ints)."""
    total = Bounds(int(start), int(start)) if isinstance(start, int) else start
    for term in terms:
        total = total + term
    return total
