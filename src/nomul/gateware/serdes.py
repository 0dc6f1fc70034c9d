# SPDX-License-Identifier: MIT
"""Width adapters at the network's input: raw samples arriving a few elements per transfer."""

from amaranth.hdl import Module, Signal

from ..design.plans import DeserializerPlan
from .pipeline import PlanComponent

__all__ = ["Deserializer"]


class Deserializer(PlanComponent):
    """Collects ``elements`` values arriving ``lanes`` per transfer into one vector (a
    :class:`~nomul.design.plans.DeserializerPlan`).

    Transfer ``t`` carries elements ``t*lanes .. t*lanes + lanes - 1`` (the first in the least
    significant bits); the last transfer of a sample may be partly unused. ``ii`` =
    ``ceil(elements / lanes)`` input transfers per vector; ``latency`` 1 cycle from the last
    transfer to the vector being valid. Accepts the next sample's first transfer in the cycle
    its vector is taken, so there is no bubble while ``o.ready`` is high.
    """

    plan_type = DeserializerPlan

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
                        for lane in range(self.plan.lanes):
                            element = beat * self.plan.lanes + lane
                            if element < self.plan.elements:
                                m.d.sync += self.o.payload[element].eq(self.i.payload[lane])
            with m.If(count == beats - 1):
                m.d.sync += [count.eq(0), self.o.valid.eq(1)]
            with m.Else():
                m.d.sync += count.eq(count + 1)
        return m
