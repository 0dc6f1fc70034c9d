# SPDX-License-Identifier: MIT
"""Folded convolution: a sliding-window generator feeding the folded dense engine.

:class:`FoldedConv` (a :class:`~nomul.design.plans.FoldedConvPlan`) chains
:class:`~nomul.gateware.window.PatchStreamer` (one patch per output position), a padding map (a
padded tap becomes the plan's ``pad_index``: the extra index ``A_in``, whose table row is all
zeros, or 0 in the multiplier baseline, where ``0 * w = 0``), :class:`~nomul.gateware.folded.
FoldedDense` over each patch and :class:`~nomul.gateware.window.PatchCollector` (the output
tensor in C order). Matches :func:`nomul.models.reference.weighted` for a convolution followed
by its activation.

``ii`` = positions x the engine's ii. ``latency`` (idle pipeline) = streamer latency + engine
latency + (positions - 1) x engine ii + collector latency: the engine returns one patch result
every engine ii once the first is out.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring

from ..design.plans import FoldedConvPlan
from .folded import FoldedDense
from .pipeline import PlanComponent
from .window import PatchCollector, PatchStreamer

__all__ = ["FoldedConv"]


class FoldedConv(PlanComponent):
    """Streamer -> padding map -> folded engine -> collector (see the module docstring)."""

    plan_type = FoldedConvPlan

    def __init__(self, plan):
        super().__init__(plan)
        self.streamer = PatchStreamer(plan.window)
        self.engine = FoldedDense(plan.engine)
        self.collector = PatchCollector(plan.collector)

    def elaborate(self, platform):
        m = Module()
        m.submodules.streamer = self.streamer
        m.submodules.engine = self.engine
        m.submodules.collector = self.collector
        wiring.connect(m, wiring.flipped(self.i), self.streamer.i)
        patch = self.streamer.o.payload
        for tap in range(len(self.engine.i.payload)):
            m.d.comb += self.engine.i.payload[tap].eq(
                Mux(patch.pad[tap], self.plan.pad_index, patch.taps[tap]))
        m.d.comb += [self.engine.i.valid.eq(self.streamer.o.valid),
                     self.streamer.o.ready.eq(self.engine.i.ready)]
        wiring.connect(m, self.engine.o, self.collector.i)
        wiring.connect(m, self.collector.o, wiring.flipped(self.o))
        return m
