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
(:func:`baseline_model`); it is checked bit for bit against the reference run on that model.
Its accuracy is not nomul's: it is a cost baseline. Defined for dense layers with scalar
codebooks (``group`` 1). A folded layer keeps its PE x SIMD; an unrolled layer becomes the fully
parallel engine (PE = outputs, SIMD = inputs), whose one-word weight ROM Yosys folds into
multiplications by constants, the conventional unrolled design.
"""

from dataclasses import replace

from amaranth.hdl import Signal

from ..errors import OptionsError
from ..numeric import Bounds
from .adder_tree import _shape
from .folded import FoldedDense

__all__ = ["slope_weights", "baseline_model", "FoldedMacDense"]


def slope_weights(table):
    """The integer weight of every codeword: its table column's slope over the activation index."""
    top = len(table) - 1
    return tuple(int(round((int(table[top][k]) - int(table[0][k])) / top))
                 for k in range(len(table[0])))


def baseline_model(model):
    """``model`` with every weighted layer's table replaced by ``a * w_k`` (see module doc)."""
    import numpy as np

    from ..models.spec import Dense

    layers = []
    for position, layer in enumerate(model.layers):
        if hasattr(layer, "weight_index"):
            if not isinstance(layer, Dense) or layer.group != 1:
                raise OptionsError(f"layer {position} ({layer.kind}): the multiplier baseline "
                                   "covers dense layers with scalar codebooks (d = 1)")
            weights = slope_weights(layer.table)
            table = np.array([[a * w for w in weights] for a in range(layer.in_levels)])
            layer = replace(layer, table=table)
        layers.append(layer)
    return replace(model, layers=tuple(layers))


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
        table = tuple(tuple(a * w for w in self.weights) for a in range(int(in_levels)))
        super().__init__(table, weight_index, bias, activation, in_levels=in_levels, group=1,
                         pe=pe, simd=simd, table_style="logic", register_every=register_every)
        self.weight_shape = _shape(Bounds.of(self.weights).union(Bounds(-1, 0)))
        self.weight_width = pe * simd * self.weight_shape.width

    def _weight_field(self, k):
        """The weight ROM holds the integer weight itself (two's complement)."""
        bits = self.weight_shape.width
        return self.weights[k] & ((1 << bits) - 1), bits

    def _product_leaves(self, m, enable, work, weight_port):
        """Per PE, the ``simd`` products ``index * weight``, registered (latency 1)."""
        cb, wb = self._code_bits, self.weight_shape.width
        nodes = []
        for p in range(self.pe):
            leaves = []
            for s in range(self.simd):
                field = (p * self.simd + s) * wb
                index = work[s * cb:(s + 1) * cb].as_unsigned()
                weight = weight_port.data[field:field + wb].as_signed()
                leaf = Signal(_shape(self._lane_bounds[p][s]), name=f"product_{p}_{s}",
                              reset_less=True)
                with m.If(enable):
                    m.d.sync += leaf.eq(index * weight)
                leaves.append(leaf)
            nodes.append(leaves)
        return nodes

