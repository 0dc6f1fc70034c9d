# SPDX-License-Identifier: MIT
"""Product tables: the lookups that replace every multiplication.

In an unrolled layer the weight indices are synthesis-time constants, so the contribution of
input group ``g`` to any output using codeword ``k`` is the constant column ``table[:, k]``
addressed by the group's input indices: a small constant function of a few index bits, i.e.
LUT logic rather than a memory. :class:`ProductLookup` computes every distinct
(group, codeword) contribution of a layer once; outputs sharing a pair share the lookup.

A group address is the concatenation of the group's index fields (input 0 in the least
significant bits), so no arithmetic is needed to form it; for ``in_levels`` a power of two this
equals the model's mixed-radix address ``sum(i_j * A**j)``, otherwise the unreachable codes are
simply never produced.
"""

from amaranth.hdl import Array, Cat, Const, Module, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..numeric import Bounds, index_width
from ._stage import register_stage

__all__ = ["group_code_table", "code_columns", "dense_groups", "ProductLookup"]


def group_code_table(table, in_levels, group):
    """``{code: row}``: the table row of each reachable concatenated group code.

    ``code`` packs the ``group`` indices at ``index_width(in_levels)`` bits each (input 0 in
    the least significant bits); ``row`` is the model's mixed-radix address.
    """
    bits = index_width(in_levels)
    codes = {}
    for row in range(in_levels ** group):
        digits = [(row // in_levels ** j) % in_levels for j in range(group)]
        code = sum(digit << (j * bits) for j, digit in enumerate(digits))
        codes[code] = row
    return codes


def code_columns(table, in_levels, group):
    """``columns[k][code]``: codeword ``k``'s product at every concatenated group code
    (:func:`group_code_table`), 0 at the unreachable ones. Flattened row by row it is the
    folded layer's product-table memory, addressed by ``Cat(code, codeword)``."""
    codes = group_code_table(table, in_levels, group)
    size = 1 << (group * index_width(in_levels))
    return [[int(table[codes[code]][k]) if code in codes else 0 for code in range(size)]
            for k in range(len(table[0]))]


def _validate_table(table, in_levels, group):
    table = tuple(tuple(int(v) for v in row) for row in table)
    if len(table) != in_levels ** group:
        raise ValueError(f"table has {len(table)} rows, expected in_levels**group = "
                         f"{in_levels ** group}")
    if not table or len({len(row) for row in table}) != 1 or len(table[0]) < 1:
        raise ValueError("table rows must all have the same, non-zero number of codewords")
    return table


def dense_groups(n_inputs, group):
    """The input groups of a dense layer: consecutive runs of ``group`` elements."""
    return tuple(tuple(range(g * group, (g + 1) * group)) for g in range(n_inputs // group))


class ProductLookup(wiring.Component):
    """Every distinct (group, codeword) product of an unrolled layer, from constant tables.

    ``groups`` lists the input groups as tuples of ``group`` element positions (input 0 of the
    group first): consecutive runs for a dense layer (:func:`dense_groups`), the taps of each
    output position for a convolution. ``pairs`` lists ``(group_number, codeword)``.
    ``i``: the layer's ``n_inputs`` indices (``ArrayLayout(unsigned(index_width), n_inputs)``);
    ``o``: one term per pair (``ArrayLayout(term_shape, len(pairs))``), the term of pair
    ``(g, k)`` being ``table[address of groups[g]][k]``. Matches the per-group products summed
    by :func:`nomul.models.reference.weighted`. Latency 1; one input per cycle.
    """

    latency = 1
    ii = 1

    def __init__(self, table, groups, pairs, *, in_levels, n_inputs):
        in_levels, n_inputs = int(in_levels), int(n_inputs)
        self._groups = tuple(tuple(int(e) for e in members) for members in groups)
        if in_levels < 2 or n_inputs < 1 or not self._groups:
            raise ValueError(f"bad geometry: in_levels={in_levels}, n_inputs={n_inputs}, "
                             f"{len(self._groups)} groups")
        group = len(self._groups[0])
        for members in self._groups:
            if len(members) != group or not all(0 <= e < n_inputs for e in members):
                raise ValueError(f"group {members} is not {group} positions below {n_inputs}")
        self._table = _validate_table(table, in_levels, group)
        codewords = len(self._table[0])
        self._pairs = tuple((int(g), int(k)) for g, k in pairs)
        for g, k in self._pairs:
            if not (0 <= g < len(self._groups) and 0 <= k < codewords):
                raise ValueError(f"pair {(g, k)} outside {len(self._groups)} groups x "
                                 f"{codewords} codewords")
        if not self._pairs:
            raise ValueError("need at least one (group, codeword) pair")
        self._in_levels, self._group = in_levels, group
        self.index_width = index_width(in_levels)
        bounds = Bounds.of([v for row in self._table for v in row]).union(Bounds(0, 0))
        self.term_bounds = tuple(self.column_bounds(k) for _, k in self._pairs)
        self.term_shape = signed(bounds.width) if bounds.signed else unsigned(bounds.width)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(unsigned(self.index_width), n_inputs))),
            "o": Out(stream.Signature(data.ArrayLayout(self.term_shape, len(self._pairs)))),
        })

    def column_bounds(self, codeword):
        """Bounds of the products of one codeword over every reachable address."""
        return Bounds.of([row[codeword] for row in self._table])

    @property
    def pairs(self):
        return self._pairs

    def elaborate(self, platform):
        m = Module()
        columns = code_columns(self._table, self._in_levels, self._group)
        enable = register_stage(m, self.i, self.o)
        for position, (g, k) in enumerate(self._pairs):
            code = Cat(*(self.i.payload[e] for e in self._groups[g]))
            column = Array(Const(value, self.term_shape) for value in columns[k])
            with m.If(enable):
                m.d.sync += self.o.payload[position].eq(column[code])
        return m
