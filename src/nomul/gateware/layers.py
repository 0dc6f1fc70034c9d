# SPDX-License-Identifier: MIT
"""Weighted layers: product lookups, adder trees and an activation, as one streaming block.

:class:`UnrolledLayer` computes every output of a dense or convolution layer in parallel, one
input tensor per clock: a :class:`~nomul.gateware.tables.ProductLookup` forms every distinct
(group, codeword) product once, one :class:`~nomul.gateware.adder_tree.AdderTree` per output
sums its products and bias (the trees run in lockstep: same latency, same enable rule), and the
activation turns the sums into indices (:class:`~nomul.gateware.threshold.ThresholdBank`), a
class (:class:`~nomul.gateware.argmax.Argmax`) or passes them on (raw).
Matches :func:`nomul.models.reference.weighted` followed by the layer's activation.
"""

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..numeric import Bounds
from .adder_tree import AdderTree
from .argmax import Argmax
from .tables import ProductLookup
from .threshold import ThresholdBank

__all__ = ["UnrolledLayer"]

ACTIVATIONS = ("thresholds", "argmax", "raw")


class UnrolledLayer(wiring.Component):
    """All outputs of a layer in parallel; latency = lookup + tree + activation; ii = 1.

    Parameters
    ----------
    table : tuple of tuples
        ``table[address][codeword]``, the product table (rows ``in_levels**group``).
    groups : tuple of tuples
        Input groups as tuples of element positions (see ``ProductLookup``).
    outputs : tuple of tuples
        Per output, its ``(group_number, codeword)`` terms (padded conv taps left out).
    bias : tuple of int
        Per output, in accumulator units.
    activation : tuple
        ``("thresholds", per_output_thresholds)``, ``("argmax",)`` or ``("raw",)``.
    """

    def __init__(self, table, groups, outputs, bias, activation, *, in_levels, n_inputs,
                 register_every=1, threshold_method="parallel"):
        outputs = tuple(tuple((int(g), int(k)) for g, k in terms) for terms in outputs)
        bias = tuple(int(b) for b in bias)
        if len(bias) != len(outputs) or not outputs:
            raise ValueError(f"{len(bias)} biases for {len(outputs)} outputs")
        if activation[0] not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation[0]!r}")
        pairs = tuple(sorted({pair for terms in outputs for pair in terms}))
        if not pairs:                     # every term padded away: one dummy lookup
            pairs = ((0, 0),)
        self.lookup = self._lookup(table, groups, pairs, in_levels=in_levels,
                                   n_inputs=n_inputs)
        position = {pair: n for n, pair in enumerate(pairs)}
        self._sources = tuple(tuple(position[pair] for pair in terms) for terms in outputs)
        # every tree gets the same number of terms (short ones padded with constant zeros), so
        # all trees have the same depth and latency and can run in lockstep
        width = max(1, max(len(sources) for sources in self._sources))
        self.trees = tuple(
            AdderTree(tuple(self.lookup.term_bounds[p] for p in sources)
                      + ((0, 0),) * (width - len(sources)), bias=b,
                      register_every=register_every)
            for sources, b in zip(self._sources, bias, strict=True))
        self.sum_bounds = tuple(tree.out_bounds for tree in self.trees)
        acc = self.sum_bounds[0].union(Bounds(0, 0))
        for bounds in self.sum_bounds[1:]:
            acc = acc.union(bounds)
        self.acc_shape = signed(acc.width) if acc.signed else unsigned(acc.width)
        kind = activation[0]
        if kind == "thresholds":
            thresholds = tuple(tuple(int(t) for t in row) for row in activation[1])
            self.activation = ThresholdBank(thresholds, in_shape=self.acc_shape,
                                            method=threshold_method)
            out_shape = self.activation.o.payload.shape()
        elif kind == "argmax":
            self.activation = Argmax(tuple((b.lo, b.hi) for b in self.sum_bounds),
                                     register_every=register_every)
            out_shape = self.activation.o.payload.shape()
        else:
            self.activation = None
            out_shape = data.ArrayLayout(self.acc_shape, len(outputs))
        self.kind = kind
        self.latency = (self.lookup.latency + self.trees[0].latency
                        + (self.activation.latency if self.activation is not None else 0))
        self.ii = 1
        super().__init__({
            "i": In(stream.Signature(self.lookup.i.payload.shape())),
            "o": Out(stream.Signature(out_shape)),
        })

    def _lookup(self, table, groups, pairs, *, in_levels, n_inputs):
        """The stage that computes every (group, codeword) term: table lookups."""
        return ProductLookup(table, groups, pairs, in_levels=in_levels, n_inputs=n_inputs)

    def elaborate(self, platform):
        m = Module()
        m.submodules.lookup = self.lookup
        wiring.connect(m, wiring.flipped(self.i), self.lookup.i)
        for n, tree in enumerate(self.trees):
            m.submodules[f"tree_{n}"] = tree
            m.d.comb += tree.i.valid.eq(self.lookup.o.valid)
            for slot, source in enumerate(self._sources[n]):
                m.d.comb += tree.i.payload[slot].eq(self.lookup.o.payload[source])
        m.d.comb += self.lookup.o.ready.eq(self.trees[0].i.ready)    # lockstep: all equal
        if self.activation is not None:
            m.submodules.activation = self.activation
            sink = self.activation.i
        else:
            sink = self.o
        for n, tree in enumerate(self.trees):
            m.d.comb += [sink.payload[n].eq(tree.o.payload), tree.o.ready.eq(sink.ready)]
        m.d.comb += sink.valid.eq(self.trees[0].o.valid)
        if self.activation is not None:
            wiring.connect(m, self.activation.o, wiring.flipped(self.o))
        return m

