# SPDX-License-Identifier: MIT
"""The multiplier baseline: the same network and folding with integer multiply-accumulate.

Cost reports set nomul's table design beside what a conventional design of the same network
costs under the same flow. The baseline multiplies integer activations by integer weights with
Amaranth's ``*``:

- the activation of an input is its index ``a`` (``0 .. A-1``, unsigned), the integer the
  uniform activation levels are proportional to;
- weight codeword ``k`` becomes the integer ``w_k = round((T[A-1][k] - T[0][k]) / (A-1))``,
  the slope of the product table's column, so ``a * w_k`` has the table's scale and entries of
  about the table's width, and the model's biases and thresholds still apply.

So the baseline computes the integer model whose tables are ``T'[a][k] = a * w_k``
(:func:`baseline_model`, the one definition of what it computes); it is checked bit for bit
against the reference run on that model. Its accuracy is not nomul's: it is a cost baseline.
Defined for dense and convolution (1-D and 2-D) layers with scalar codebooks (``group`` 1).

Architectures, per layer:

- folded dense: :class:`FoldedMacDense`, the PE x SIMD engine of
  :class:`~nomul.gateware.folded.FoldedDense` with a weight ROM of integer weights and
  ``pe * simd`` multipliers in place of the product tables; same latency and ii.
- folded convolution: the same :class:`~nomul.gateware.conv.FoldedConv` (patch streamer,
  engine, collector) around a :class:`FoldedMacDense`. A padded tap enters the engine as index
  ``0`` (the table design uses the extra index ``A``, whose table row is zeros): in the
  baseline's integer model a padded tap contributes 0 (:func:`nomul.models.reference.weighted`)
  and ``0 * w_k = T'[0][k] = 0``, so zero padding is exact with a plain ``a * w`` and the index
  width stays that of ``A`` levels. Same latency and ii as the table design.
- unrolled dense or convolution: :class:`UnrolledMacLayer`, the table design's
  :class:`~nomul.gateware.layers.UnrolledLayer` (one tensor per clock, every output position
  and channel in parallel, same adder trees and activation, padded taps left out) whose
  lookup stage computes each distinct (input, codeword) product ``a * w_k`` as a registered
  multiplication by a constant (:class:`MacLookup`): the conventional unrolled design, with
  the same latency and ``ii = 1``. ``group_inputs`` (a table option) does not apply.
"""

from dataclasses import replace

from amaranth.hdl import Const, Module, Signal

from ..errors import OptionsError
from ..numeric import Bounds
from ._stage import register_stage
from .adder_tree import _shape
from .folded import FoldedDense
from .layers import UnrolledLayer
from .tables import ProductLookup

__all__ = ["slope_weights", "baseline_model", "FoldedMacDense", "MacLookup",
           "UnrolledMacLayer"]


def slope_weights(table):
    """The integer weight of every codeword: its table column's slope over the activation index."""
    top = len(table) - 1
    return tuple(int(round((int(table[top][k]) - int(table[0][k])) / top))
                 for k in range(len(table[0])))


def baseline_model(model):
    """``model`` with every weighted layer's table replaced by ``a * w_k`` (see module doc).

    Raises a one-line :class:`OptionsError` for a layer with vector codebooks (``group > 1``).
    """
    import numpy as np

    layers = []
    for position, layer in enumerate(model.layers):
        if hasattr(layer, "weight_index"):
            if layer.group != 1:
                raise OptionsError(f"layer {position} ({layer.kind}): the multiplier baseline "
                                   "covers dense and conv layers with scalar codebooks (d = 1)")
            weights = slope_weights(layer.table)
            table = np.array([[a * w for w in weights] for a in range(layer.in_levels)],
                             dtype=np.int64)
            layer = replace(layer, table=table)
        layers.append(layer)
    return replace(model, layers=tuple(layers))


def _products(weights, in_levels):
    return tuple(tuple(a * w for w in weights) for a in range(int(in_levels)))


class FoldedMacDense(FoldedDense):
    """:class:`FoldedDense` with multipliers instead of product tables.

    ``weights[k]`` is the integer of codeword ``k``; the weight ROM holds, per cycle, the
    ``pe * simd`` integer weights themselves (not codeword indices), and each lane registers
    ``index * weight``. Same latency, II, ports and accumulators as the table engine on the
    table ``a * w_k``, which it matches exactly.
    """

    def __init__(self, weights, weight_index, bias, activation, *, in_levels, pe, simd,
                 register_every=1):
        self.weights = tuple(int(w) for w in weights)
        super().__init__(_products(self.weights, in_levels), weight_index, bias, activation,
                         in_levels=in_levels, group=1, pe=pe, simd=simd, table_style="logic",
                         register_every=register_every)
        self.weight_shape = _shape(Bounds.of(self.weights).union(Bounds(-1, 0)))
        self.weight_width = pe * simd * self.weight_shape.width

    def _weight_field(self, k):
        """The weight ROM holds the integer weight itself (two's complement)."""
        bits = self.weight_shape.width
        return self.weights[k] & ((1 << bits) - 1), bits

    def _product_leaves(self, m, enable, tile, weight_port):
        """Per PE, the ``simd`` products ``index * weight``, registered (latency 1)."""
        cb, wb = self._code_bits, self.weight_shape.width
        nodes = []
        for p in range(self.pe):
            leaves = []
            for s in range(self.simd):
                field = (p * self.simd + s) * wb
                index = tile[s * cb:(s + 1) * cb].as_unsigned()
                weight = weight_port.data[field:field + wb].as_signed()
                leaf = Signal(_shape(self._lane_bounds[p][s]), name=f"product_{p}_{s}",
                              reset_less=True)
                with m.If(enable):
                    m.d.sync += leaf.eq(index * weight)
                leaves.append(leaf)
            nodes.append(leaves)
        return nodes


class MacLookup(ProductLookup):
    """:class:`~nomul.gateware.tables.ProductLookup` with multiplications instead of tables.

    Groups are single inputs (``group`` 1); the term of pair ``(g, k)`` is the input index times
    the constant ``weights[k]``, registered. Same ports, latency, ``term_bounds`` and
    ``term_shape`` as the lookup of the table ``a * w_k``, which it matches exactly.
    """

    def __init__(self, weights, groups, pairs, *, in_levels, n_inputs):
        self.weights = tuple(int(w) for w in weights)
        super().__init__(_products(self.weights, in_levels), groups, pairs,
                         in_levels=in_levels, n_inputs=n_inputs)
        if self._group != 1:
            raise ValueError(f"MacLookup needs single-input groups, not {self._group}")

    def elaborate(self, platform):
        m = Module()
        enable = register_stage(m, self.i, self.o)
        for position, (g, k) in enumerate(self.pairs):
            index = self.i.payload[self._groups[g][0]].as_unsigned()
            with m.If(enable):
                m.d.sync += self.o.payload[position].eq(index * Const(self.weights[k]))
        return m


class UnrolledMacLayer(UnrolledLayer):
    """:class:`~nomul.gateware.layers.UnrolledLayer` whose products come from a
    :class:`MacLookup` (``index * w_k``) instead of product tables.

    Takes the ``weights`` (one integer per codeword) where ``UnrolledLayer`` takes a table;
    every other parameter, the ports, latency and ii are ``UnrolledLayer``'s on the table
    ``a * w_k``, which it matches exactly.
    """

    def __init__(self, weights, groups, outputs, bias, activation, *, in_levels, n_inputs,
                 register_every=1, threshold_method="parallel"):
        self.weights = tuple(int(w) for w in weights)
        super().__init__(_products(self.weights, in_levels), groups, outputs, bias, activation,
                         in_levels=in_levels, n_inputs=n_inputs, register_every=register_every,
                         threshold_method=threshold_method)

    def _lookup(self, table, groups, pairs, *, in_levels, n_inputs):
        """Multiplications instead of lookups; the same pairs, term bounds and ports as the
        table ``a * w_k`` would give, so the trees and activation around them are the same."""
        return MacLookup(self.weights, groups, pairs, in_levels=in_levels, n_inputs=n_inputs)
