# SPDX-License-Identifier: MIT
"""Width adapters at the network's input: raw samples arriving a few elements per transfer."""

import math

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Deserializer"]


class Deserializer(wiring.Component):
    """Collects ``elements`` values arriving ``lanes`` per transfer into one vector.

    Transfer ``t`` carries elements ``t*lanes .. t*lanes + lanes - 1`` (the first in the least
    significant bits); the last transfer of a sample may be partly unused. ``ii`` =
    ``ceil(elements / lanes)`` input transfers per vector; ``latency`` 1 cycle from the last
    transfer to the vector being valid. Accepts the next sample's first transfer in the cycle
    its vector is taken, so there is no bubble while ``o.ready`` is high.
    """

    latency = 1

    def __init__(self, elements, *, lanes, element_shape):
        elements, lanes = int(elements), int(lanes)
        if elements < 1 or not 1 <= lanes <= elements:
            raise ValueError(f"need 1 <= lanes <= elements, not lanes={lanes}, "
                             f"elements={elements}")
        self._elements, self._lanes = elements, lanes
        self.ii = math.ceil(elements / lanes)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(element_shape, lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(element_shape, elements))),
        })

    def elaborate(self, platform):
        m = Module()
        beats = self.ii
        count = Signal(range(max(2, beats)), name="beat")
        filling = ~self.o.valid | self.o.ready
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.comb += self.i.ready.eq(filling)
        with m.If(self.i.valid & filling):
            with m.Switch(count):
                for beat in range(beats):
                    with m.Case(beat):
                        for lane in range(self._lanes):
                            element = beat * self._lanes + lane
                            if element < self._elements:
                                m.d.sync += self.o.payload[element].eq(self.i.payload[lane])
            with m.If(count == beats - 1):
                m.d.sync += [count.eq(0), self.o.valid.eq(1)]
            with m.Else():
                m.d.sync += count.eq(count + 1)
        return m
