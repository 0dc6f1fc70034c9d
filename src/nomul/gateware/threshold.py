# SPDX-License-Identifier: MIT
"""Threshold units: an accumulator in, the number of thresholds it meets or exceeds out.

:class:`ThresholdUnit` handles one scalar with parallel comparators; :class:`ThresholdBank`
handles a vector of accumulators, each with its own ascending thresholds, by parallel
comparators (latency 1) or by a pipelined binary search (one comparison per stage, for many
levels).
"""

import operator

from amaranth.hdl import Cat, Const, Module, Shape, ShapeCastable, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..numeric import Bounds, index_width

__all__ = ["ThresholdUnit", "ThresholdBank"]

METHODS = ("parallel", "search")


def _ints(values, name):
    values = tuple(int(v) for v in values)      # numpy scalars -> int
    if list(values) != sorted(values):
        raise ValueError(f"{name} must be ascending, not {values!r}")
    return values


def _int(value, name):
    """A plain ``int`` from an int or numpy integer; TypeError naming ``name`` otherwise."""
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    return operator.index(value)


class ThresholdUnit(wiring.Component):
    """Multi-threshold activation with parallel comparators.

    Matches :func:`nomul.models.reference.threshold_count` (``>=``: a value equal to a
    threshold goes up). Latency 1; one sample per cycle while ``o.ready`` is high.
    """

    latency = 1
    ii = 1

    def __init__(self, thresholds, *, width, is_signed=True):
        self._thresholds = _ints(thresholds, "thresholds")
        if not self._thresholds:
            raise ValueError("need at least one threshold")
        shape = signed(width) if is_signed else unsigned(width)
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(range(len(self._thresholds) + 1))),
        })

    def elaborate(self, platform):
        m = Module()
        code = sum(self.i.payload >= t for t in self._thresholds)   # thermometer -> count
        with m.If(~self.o.valid | self.o.ready):
            m.d.comb += self.i.ready.eq(1)
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(code)]
        return m


def _shape_bounds(shape):
    """The closed range of values of an Amaranth shape."""
    if shape.signed:
        return Bounds(-(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1)
    return Bounds(0, (1 << shape.width) - 1)


class ThresholdBank(wiring.Component):
    """A vector of multi-threshold activations: output ``j`` counts the thresholds of row ``j``
    that accumulator ``j`` meets or exceeds.

    Matches :func:`nomul.models.reference.threshold_count` with per-channel thresholds of shape
    ``(M, T)`` exactly: ``>=`` (a value equal to a threshold goes up), duplicate thresholds
    count once each.

    Parameters
    ----------
    thresholds : sequence of M sequences of T ints
        One ascending row (ties allowed) per output, all of the same length ``T >= 1``; shared
        thresholds are passed as M equal rows.
    in_shape : shape-like
        Shape of each accumulator (an Amaranth ``Shape``, ``int`` or ``range``). Thresholds
        outside its range are clamped to ``min`` (always met) or ``max + 1`` (never met),
        which changes no result.
    method : ``"parallel"`` or ``"search"``
        ``"parallel"``: T comparators per output and a population count; latency 1.
        ``"search"``: a pipelined binary search over each row's constant thresholds. Stage
        ``s`` finds bit ``S-1-s`` of the count (``S = ceil(log2(T + 1))`` stages) with one
        comparison, against a constant picked by a mux from the bits found so far (count
        ``>= c`` exactly when ``acc >= thresholds[c-1]``); latency ``S``.

    Attributes
    ----------
    thresholds : tuple of tuple of int
    in_shape : Shape
    out_shape : Shape
        ``unsigned(index_width(T + 1))``: an index ``0..T``.
    method : str
    latency : int
        1 for ``"parallel"``, ``ceil(log2(T + 1))`` for ``"search"``: cycles from an input
        transfer to its result becoming valid without back-pressure.
    ii : int
        1: one vector accepted per cycle while ``o.ready`` is high.

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(in_shape, M)))``
    o : ``Out(stream.Signature(data.ArrayLayout(out_shape, M)))``
        Element ``j`` (least significant first) belongs to row ``j``.
    """

    ii = 1

    def __init__(self, thresholds, *, in_shape, method="parallel"):
        if isinstance(thresholds, (str, bytes)) or not hasattr(thresholds, "__iter__"):
            raise TypeError(f"thresholds must be a sequence of rows, not {thresholds!r}")
        rows = []
        for j, row in enumerate(thresholds):
            if isinstance(row, (str, bytes)) or not hasattr(row, "__iter__"):
                raise TypeError(f"thresholds[{j}] must be a sequence of ints, not {row!r}")
            row = tuple(_int(t, f"thresholds[{j}][{k}]") for k, t in enumerate(row))
            if not row:
                raise ValueError(f"thresholds[{j}] is empty; need at least one threshold")
            if list(row) != sorted(row):
                raise ValueError(f"thresholds[{j}] must be ascending, not {row!r}")
            if rows and len(row) != len(rows[0]):
                raise ValueError(f"thresholds[{j}] has {len(row)} thresholds, thresholds[0] "
                                 f"has {len(rows[0])}; all rows need the same count")
            rows.append(row)
        if not rows:
            raise ValueError("thresholds must have at least one row")
        if isinstance(in_shape, ShapeCastable) or isinstance(in_shape, bool):
            raise TypeError(f"in_shape must be a plain shape (Shape, int or range), "
                            f"not {in_shape!r}")
        try:
            in_shape = Shape.cast(in_shape)
        except TypeError as error:
            raise TypeError(f"in_shape must be a plain shape (Shape, int or range), "
                            f"not {in_shape!r}") from error
        if in_shape.width == 0:
            raise ValueError(f"in_shape must have at least one bit, not {in_shape!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {method!r}")

        self.thresholds = tuple(rows)
        self.in_shape = in_shape
        self.method = method
        self.n_thresholds = len(rows[0])
        self.out_shape = unsigned(index_width(self.n_thresholds + 1))
        self.stages = self.out_shape.width          # == ceil(log2(T + 1)) for T >= 1
        self.latency = 1 if method == "parallel" else self.stages

        # clamp into min .. max + 1 of the input shape: same results, narrower constants
        limits = _shape_bounds(in_shape)
        self._clamped = tuple(tuple(min(max(t, limits.lo), limits.hi + 1) for t in row)
                              for row in rows)
        self._const_bounds = Bounds(limits.lo, limits.hi + 1)

        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(in_shape, len(rows)))),
            "o": Out(stream.Signature(data.ArrayLayout(self.out_shape, len(rows)))),
        })

    def elaborate(self, platform):
        m = Module()
        enable = Signal()
        m.d.comb += [enable.eq(~self.o.valid | self.o.ready), self.i.ready.eq(enable)]
        if self.method == "parallel":
            self._elaborate_parallel(m, enable)
        else:
            self._elaborate_search(m, enable)
        return m

    def _elaborate_parallel(self, m, enable):
        with m.If(enable):
            m.d.sync += self.o.valid.eq(self.i.valid)
            for j, row in enumerate(self._clamped):
                code = sum(self.i.payload[j] >= t for t in row)     # thermometer -> count
                m.d.sync += self.o.payload[j].eq(code)

    def _elaborate_search(self, m, enable):
        const_shape = (signed if self._const_bounds.signed else unsigned)(
            self._const_bounds.width)
        never = self._const_bounds.hi                   # max + 1: never met
        stages, valid = self.stages, self.i.valid
        accs = [self.i.payload[j] for j in range(len(self._clamped))]
        found = [None] * len(self._clamped)             # the count bits decided so far
        for s in range(stages):
            bit = stages - 1 - s                        # the count bit this stage decides
            last = s == stages - 1
            next_valid = self.o.valid if last else Signal(name=f"valid_s{s + 1}")
            with m.If(enable):
                m.d.sync += next_valid.eq(valid)
            valid = next_valid
            for j, row in enumerate(self._clamped):
                # candidate count c = (found << (bit + 1)) | (1 << bit): the count is >= c
                # exactly when acc >= row[c - 1]; a c above T is never met
                options = []
                for prefix in range(1 << s):
                    c = (prefix << (bit + 1)) | (1 << bit)
                    options.append(row[c - 1] if c <= len(row) else never)
                if s == 0:
                    threshold = Const(options[0], const_shape)
                else:
                    threshold = Signal(const_shape, name=f"thr_s{s}_{j}")
                    with m.Switch(found[j]):
                        for prefix, value in enumerate(options):
                            with m.Case(prefix):
                                m.d.comb += threshold.eq(value)
                met = Signal(name=f"met_s{s}_{j}")
                m.d.comb += met.eq(accs[j] >= threshold)
                code = met if s == 0 else Cat(met, found[j])      # met is the new LSB
                if last:
                    with m.If(enable):
                        m.d.sync += self.o.payload[j].eq(code)
                    continue
                new_found = Signal(s + 1, name=f"found_s{s + 1}_{j}", reset_less=True)
                new_acc = Signal(self.in_shape, name=f"acc_s{s + 1}_{j}", reset_less=True)
                with m.If(enable):
                    m.d.sync += [new_found.eq(code), new_acc.eq(accs[j])]
                found[j], accs[j] = new_found, new_acc
