# SPDX-License-Identifier: MIT
"""The input quantizer: a vector of raw sensor samples in, a vector of activation indices out."""

import operator

from amaranth.hdl import Array, Const, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..numeric import Bounds, index_width
from ._stage import register_stage

__all__ = ["InputQuantizer", "LOOKUP_MAX_TABLE_BITS"]

# thresholds are read from a constant table of the 2**bits raw codes (a logic function ABC maps
# freely) instead of one comparator per threshold (which iCE40 puts on carry chains) when that
# table has at most this many bits: on 64 samples of 5-8 bits, 62-65 % fewer iCE40 logic cells
# after place and route and fewer or equal LUT6, ECP5 LUTs and gates (bench/RESULTS.md). Up to
# 1024 bits Yosys keeps the table in logic on every family; above it, memory_libmap rates an
# iCE40 block RAM cheaper and would spend one per sample.
LOOKUP_MAX_TABLE_BITS = 1024


def _int(value, name):
    """A plain ``int`` from an int or numpy integer; ``TypeError`` for anything else."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {value!r}") from None


class InputQuantizer(wiring.Component):
    """Raw integer samples to input activation indices, one whole vector per transfer.

    ``identity``: ``index = raw - raw_min``; ``thresholds``: ``index`` = the number of
    thresholds ``t`` with ``raw >= t`` (a sample equal to a threshold goes up), read from a
    constant table of every raw code when that table has at most :data:`LOOKUP_MAX_TABLE_BITS`
    bits (``style == "lookup"``), otherwise computed with parallel comparators (``"compare"``).
    Matches :func:`nomul.models.reference.quantize_input` for an
    :class:`~nomul.models.spec.InputSpec` with the same ``raw_min``, ``raw_max`` and
    ``thresholds`` (its tensor flattened in C order).

    Latency 1; one vector per cycle (``ii = 1``) while ``o.ready`` is high.

    Parameters
    ----------
    elements : int
        Samples per vector (the flattened input tensor).
    raw_min, raw_max : int
        Range of the raw samples; ``raw_min < 0`` makes them signed.
    thresholds : sequence of int, optional
        Ascending (ties allowed) thresholds; ``None`` selects the identity quantizer.

    Attributes
    ----------
    raw_shape : Shape
        One raw sample: the smallest (signed when ``raw_min < 0``) shape holding the range.
    index_shape : Shape
        One index: ``unsigned`` of the width of ``levels - 1``.
    levels : int
        Number of index values (``raw_max - raw_min + 1`` or ``len(thresholds) + 1``).
    style : str
        ``"identity"``, ``"lookup"`` or ``"compare"`` (how the index is computed).
    latency, ii : int
        1 and 1.

    Ports
    -----
    i : In(stream.Signature(ArrayLayout(raw_shape, elements)))
    o : Out(stream.Signature(ArrayLayout(index_shape, elements)))
    """

    latency = 1
    ii = 1

    def __init__(self, elements, *, raw_min, raw_max, thresholds=None):
        elements = _int(elements, "elements")
        if elements < 1:
            raise ValueError(f"elements must be >= 1, not {elements}")
        raw_min = _int(raw_min, "raw_min")
        raw_max = _int(raw_max, "raw_max")
        if raw_min > raw_max:
            raise ValueError(f"raw_min {raw_min} is above raw_max {raw_max}")
        if thresholds is not None:
            try:
                items = tuple(thresholds)
            except TypeError:
                raise TypeError(f"thresholds must be a sequence of integers, "
                                f"not {thresholds!r}") from None
            thresholds = tuple(_int(t, f"thresholds[{n}]") for n, t in enumerate(items))
            if not thresholds:
                raise ValueError("thresholds must not be empty (use None for identity)")
            if list(thresholds) != sorted(thresholds):
                raise ValueError(f"thresholds must be ascending, not {thresholds!r}")
        self._elements = elements
        self._raw_min = raw_min
        self._raw_max = raw_max
        self._thresholds = thresholds
        bounds = Bounds(raw_min, raw_max)
        self.raw_shape = signed(bounds.width) if bounds.signed else unsigned(bounds.width)
        self.levels = raw_max - raw_min + 1 if thresholds is None else len(thresholds) + 1
        self.index_shape = unsigned(index_width(self.levels))
        if thresholds is None:
            self.style = "identity"
        else:
            table_bits = (1 << self.raw_shape.width) * self.index_shape.width
            self.style = "lookup" if table_bits <= LOOKUP_MAX_TABLE_BITS else "compare"
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(self.raw_shape, elements))),
            "o": Out(stream.Signature(data.ArrayLayout(self.index_shape, elements))),
        })

    @property
    def elements(self):
        return self._elements

    @property
    def thresholds(self):
        """The thresholds (a tuple), or ``None`` for the identity quantizer."""
        return self._thresholds

    @property
    def compared_thresholds(self):
        """The thresholds a sample can fall on either side of (``raw_min < t <= raw_max``):
        those at or below ``raw_min`` are always met, those above ``raw_max`` never."""
        return tuple(t for t in self._thresholds if self._raw_min < t <= self._raw_max)

    def lookup_table(self):
        """The index of every raw code ``0 .. 2**width - 1`` (the bit pattern of a sample; a
        code outside ``raw_min..raw_max`` never arrives and reads its nearest end's index)."""
        width = self.raw_shape.width
        half = 1 << (width - 1)
        table = []
        for code in range(1 << width):
            raw = code - 2 * half if self.raw_shape.signed and code >= half else code
            raw = min(max(raw, self._raw_min), self._raw_max)
            table.append(sum(1 for t in self._thresholds if raw >= t))
        return table

    def _index(self, raw, table):
        if self.style == "identity":
            return raw - self._raw_min
        if self.style == "lookup":
            return table[raw.as_unsigned()]
        always = sum(1 for t in self._thresholds if t <= self._raw_min)
        return sum((raw >= t for t in self.compared_thresholds), always)

    def elaborate(self, platform):
        m = Module()
        enable = register_stage(m, self.i, self.o)
        table = None
        if self.style == "lookup":
            table = Array(Const(v, self.index_shape) for v in self.lookup_table())
        for n in range(self._elements):
            index = Signal(self.index_shape, name=f"index_{n}")
            m.d.comb += index.eq(self._index(self.i.payload[n], table))
            with m.If(enable):
                m.d.sync += self.o.payload[n].eq(index)
        return m
