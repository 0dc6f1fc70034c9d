# SPDX-License-Identifier: MIT
"""Folded convolution: a sliding-window generator feeding the folded dense engine.

:class:`FoldedConv` chains :class:`~nomul.gateware.window.PatchStreamer` (one patch per output
position), a padding map (a padded tap becomes the extra index ``A_in``, whose table row is all
zeros, so it contributes exactly 0), :class:`~nomul.gateware.folded.FoldedDense` over each patch
and :class:`~nomul.gateware.window.PatchCollector` (the output tensor in C order). Matches
:func:`nomul.models.reference.weighted` for a convolution followed by its activation.

``ii`` = positions x the engine's ii. ``latency`` (idle pipeline) = streamer latency + engine
latency + (positions - 1) x engine ii + collector latency: the engine returns one patch result
every engine ii once the first is out.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["padded_table", "FoldedConv"]


def padded_table(table, in_levels, group):
    """The table over ``in_levels + 1`` levels, where index ``in_levels`` (a padded tap) adds 0.

    Rows are mixed-radix addresses over the extended levels; a row containing the padding
    index is all zeros (only whole groups are ever padded).
    """
    table = tuple(tuple(int(v) for v in row) for row in table)
    levels = in_levels + 1
    rows = []
    for row in range(levels ** group):
        digits = [(row // levels ** j) % levels for j in range(group)]
        if in_levels in digits:
            rows.append((0,) * len(table[0]))
        else:
            rows.append(table[sum(d * in_levels ** j for j, d in enumerate(digits))])
    return tuple(rows)


class FoldedConv(wiring.Component):
    """Streamer -> padding map -> folded engine -> collector (see the module docstring)."""

    def __init__(self, streamer, engine, collector, *, pad_index):
        self.streamer, self.engine, self.collector = streamer, engine, collector
        self._pad_index = int(pad_index)
        positions = streamer.positions
        self.ii = positions * engine.ii
        self.latency = (streamer.latency + engine.latency + (positions - 1) * engine.ii
                        + collector.latency)
        self.acc_shape = engine.acc_shape
        self.kind = engine.kind
        self.table_style = engine.table_style
        super().__init__({
            "i": In(stream.Signature(streamer.i.payload.shape())),
            "o": Out(stream.Signature(collector.o.payload.shape())),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.streamer = self.streamer
        m.submodules.engine = self.engine
        m.submodules.collector = self.collector
        wiring.connect(m, wiring.flipped(self.i), self.streamer.i)
        patch = self.streamer.o.payload
        for tap in range(len(self.engine.i.payload)):
            m.d.comb += self.engine.i.payload[tap].eq(
                Mux(patch.pad[tap], self._pad_index, patch.taps[tap]))
        m.d.comb += [self.engine.i.valid.eq(self.streamer.o.valid),
                     self.streamer.o.ready.eq(self.engine.i.ready)]
        wiring.connect(m, self.engine.o, self.collector.i)
        wiring.connect(m, self.collector.o, wiring.flipped(self.o))
        return m
