# SPDX-License-Identifier: MIT
"""Threshold units: an accumulator in, the number of thresholds it meets or exceeds out."""

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ThresholdUnit"]


def _ints(values, name):
    values = tuple(int(v) for v in values)      # numpy scalars -> int
    if list(values) != sorted(values):
        raise ValueError(f"{name} must be ascending, not {values!r}")
    return values


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
