# SPDX-License-Identifier: MIT
"""The network top: raw samples in on one stream, results out on another, from a Design.

Ports (Verilog names after conversion): ``i__payload``/``i__valid``/``i__ready`` carry raw
input elements, ``lanes`` per transfer (element 0 in the least significant bits);
``o__payload``/``o__valid``/``o__ready`` carry the class index (argmax models) or the
accumulators concatenated (raw models, output 0 in the least significant bits); clock ``clk``
and synchronous active-high reset ``rst`` come from the default ``sync`` domain.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..design import Design, plans
from .conv import FoldedConv
from .folded import FoldedDense
from .layers import UnrolledLayer
from .pipeline import layout_of
from .pool import MaxPool
from .quantizer import InputQuantizer
from .serdes import Deserializer

__all__ = ["COMPONENTS", "component", "NetworkTop"]

# the component built from each kind of stage plan
COMPONENTS = {plans.QuantizerPlan: InputQuantizer, plans.DeserializerPlan: Deserializer,
              plans.UnrolledPlan: UnrolledLayer, plans.FoldedPlan: FoldedDense,
              plans.FoldedConvPlan: FoldedConv, plans.PoolPlan: MaxPool}


def component(plan):
    """The component of one stage plan (:data:`COMPONENTS`)."""
    try:
        return COMPONENTS[type(plan)](plan)
    except KeyError:
        raise TypeError(f"no component for a {type(plan).__name__}") from None


class NetworkTop(wiring.Component):
    """A :class:`~nomul.design.Design`'s stages (input quantizer, layers, pools) in a chain,
    behind a deserializer when a sample takes several transfers.

    ``latency`` and ``ii`` are the design's: cycles from the last input transfer of a sample
    to its result with no back-pressure, and cycles between samples at full throughput.
    """

    def __init__(self, design):
        if not isinstance(design, Design):
            raise TypeError(f"design must be a Design, not {design!r}")
        self.design = design
        self.stages = tuple((name, component(plan)) for name, plan in design.named_stages)
        self.latency, self.ii, self.lanes = design.latency, design.ii, design.lanes
        super().__init__({
            "i": In(stream.Signature(layout_of(design.in_port))),
            "o": Out(stream.Signature(layout_of(design.out_port))),
        })

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        for name, stage in self.stages:
            m.submodules[name] = stage
            wiring.connect(m, upstream, stage.i)
            upstream = stage.o
        wiring.connect(m, upstream, wiring.flipped(self.o))
        return m
