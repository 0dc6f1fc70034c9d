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

from ..design import Design
from .pipeline import COMPONENTS, layout_of

__all__ = ["component", "NetworkTop"]


def component(plan):
    """The component of a plan (:data:`~.pipeline.COMPONENTS`: every component module of
    this package registers its plan class; all are imported on the first call)."""
    if not _discovered:
        import importlib
        import pkgutil

        from .. import gateware

        for module in pkgutil.iter_modules(gateware.__path__):
            importlib.import_module(f"{gateware.__name__}.{module.name}")
        _discovered.append(True)
    try:
        return COMPONENTS[type(plan)](plan)
    except KeyError:
        raise TypeError(f"no component for a {type(plan).__name__}") from None


_discovered = []


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
