# SPDX-License-Identifier: MIT
"""The network top: raw samples in on one stream, results out on another.

Ports (Verilog names after conversion): ``i__payload``/``i__valid``/``i__ready`` carry raw
input elements, ``lanes`` per transfer (element 0 in the least significant bits);
``o__payload``/``o__valid``/``o__ready`` carry the class index (argmax models) or the
accumulators concatenated (raw models, output 0 in the least significant bits); clock ``clk``
and synchronous active-high reset ``rst`` come from the default ``sync`` domain.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .serdes import Deserializer

__all__ = ["NetworkTop"]


class NetworkTop(wiring.Component):
    """A chain of streaming stages (input quantizer, layers, pools) behind a deserializer.

    ``latency``: cycles from the last input transfer of a sample to its result being valid
    with no back-pressure (the sum of the stages' latencies). ``ii``: cycles between samples at
    full throughput (the slowest stage, or the number of input transfers per sample).
    """

    def __init__(self, stages, *, elements, lanes=None, stage_names=None):
        self._stages = tuple(stages)
        if not self._stages:
            raise ValueError("a network needs at least one stage")
        self._names = tuple(stage_names or (f"stage_{n}" for n in range(len(self._stages))))
        first = self._stages[0].i.payload.shape()
        element_shape = first.elem_shape
        lanes = elements if lanes is None else int(lanes)
        self.deserializer = Deserializer(elements, lanes=lanes, element_shape=element_shape) \
            if lanes < elements else None
        head = self.deserializer if self.deserializer is not None else self._stages[0]
        self.lanes = lanes
        self.stage_latencies = tuple(stage.latency for stage in self._stages)
        self.latency = sum(self.stage_latencies) + (self.deserializer.latency
                                                    if self.deserializer else 0)
        self.ii = max([stage.ii for stage in self._stages]
                      + ([self.deserializer.ii] if self.deserializer else []))
        super().__init__({
            "i": In(stream.Signature(head.i.payload.shape())),
            "o": Out(stream.Signature(self._stages[-1].o.payload.shape())),
        })

    @property
    def stages(self):
        """The streaming stages in order (the deserializer, if any, is ``deserializer``)."""
        return self._stages

    @property
    def named_stages(self):
        """``(submodule name, stage)`` in stream order, the deserializer first if there is one
        (the names are those of the top's submodules in the emitted Verilog)."""
        head = [("deserializer", self.deserializer)] if self.deserializer is not None else []
        return head + list(zip(self._names, self._stages, strict=True))

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        if self.deserializer is not None:
            m.submodules.deserializer = self.deserializer
            wiring.connect(m, upstream, self.deserializer.i)
            upstream = self.deserializer.o
        for name, stage in zip(self._names, self._stages, strict=True):
            m.submodules[name] = stage
            wiring.connect(m, upstream, stage.i)
            upstream = stage.o
        wiring.connect(m, upstream, wiring.flipped(self.o))
        return m
