# SPDX-License-Identifier: MIT
"""Unrolled layers as one shared adder graph: the plan and its lowering.

An unrolled layer computes every output of a dense or convolution layer in parallel, one input
tensor per clock. Its sums go through one multi-output adder graph (:mod:`.graph`) built by
:func:`lower_unrolled` in one of two forms:

- **factored** (a product table linear in the activation level, ``T[a][k] = T[0][k] + D_k a``,
  scalar codebooks): output ``o`` is ``C_o + sum_D D S_oD``, where ``S_oD`` sums the input
  indices whose codeword's slope is ``D`` (``D = 0`` costs nothing); the sums ``S_oD`` share
  their common pairs across outputs and slopes, and each ``D S_oD`` is a shift-add of its
  signed digits. This is the bit-level sharing of a constant-matrix
  multiplier, at the cost of one small sum per slope;
- **table** (any other table, product quantization, or grouped inputs): the leaves are product
  lookups, constant functions of a group's index bits (``g`` consecutive inputs of a dense
  layer looked up together, the last group ragged), zero columns left out; the outputs' sums
  share common pairs of lookups.

``group_inputs="auto"`` takes the factored form when it applies and otherwise the grouping
(1, 2 or 3 inputs, within a 6-input LUT) whose graph is smallest.

The constant ``C_o`` (bias and the table's constant part) is folded into the thresholds of a
thresholds layer, so it costs nothing; argmax and raw outputs add it in the graph. The
activation: parallel comparators, a pipelined binary search, or, where an output's thresholds
are evenly spaced by a power of two, a shift-and-clamp (:class:`~.trees.ClampPlan`).
"""

from dataclasses import dataclass

import numpy as np

from ..errors import OptionsError
from ..numeric import Bounds, index_width
from .activation import Argmax, Thresholds
from .graph import (
    ConstLeaf,
    Graph,
    InputLeaf,
    LookupLeaf,
    adder_cost,
    csd,
    share_pairs,
    sum_terms,
)
from .params import as_int, fill
from .ports import Field, Vector, field_of
from .tables import clamped_digits, clamped_row, group_code_table
from .trees import ArgmaxPlan, ClampPlan, ThresholdPlan, union

__all__ = ["UnrolledPlan", "affine_columns", "lower_unrolled", "MAX_GROUP_BITS"]

MAX_GROUP_BITS = 6             # group_inputs="auto": a group's code fits a 6-input LUT


def affine_columns(table, columns):
    """``{k: (c0, slope)}`` when every column ``k`` of ``columns`` is exactly affine in the
    level (``table[a][k] == c0 + slope * a``), else None."""
    rows = np.asarray(table, dtype=np.int64)
    levels = np.arange(rows.shape[0], dtype=np.int64)
    found = {}
    for k in columns:
        c0, slope = int(rows[0, k]), int(rows[1, k] - rows[0, k]) if len(rows) > 1 else 0
        if not np.array_equal(rows[:, k], c0 + slope * levels):
            return None
        found[k] = (c0, slope)
    return found


def _schedule(graph, register_every, outputs):
    """``(stage per id, final stage count)``: node ``n`` at adder level ``L`` is computed in
    stage ``(L - 1) // register_every`` (all in stage 0 when ``register_every`` is 0); leaves
    in stage 0; the output registers close stage ``count - 1``."""
    level = [0] * len(graph.leaves)
    for a, b, _, _ in graph.nodes:
        level.append(1 + max(level[a], level[b]))
    stage = [0 if lv == 0 or register_every == 0 else (lv - 1) // register_every
             for lv in level]
    used = [stage[term[0]] for term in outputs if term is not None]
    return stage, max(used, default=0) + 1


@dataclass(frozen=True)
class UnrolledPlan:
    """All outputs of a layer in parallel through one adder graph; ii 1.

    ``leaves`` (:class:`~.graph.InputLeaf`, :class:`~.graph.LookupLeaf`,
    :class:`~.graph.ConstLeaf`), ``nodes`` (``(a, b, shift, sign)``: ``a + sign * (b <<
    shift)``) and per output its term ``(value, shift, sign)`` (None: no term) and ``offset``,
    so that output ``o`` is ``sign * (value << shift) + offset``. The graph is cut into
    ``stages`` by pipeline registers every ``register_every`` adder levels (``stage[id]``); a
    value used in a later stage than its own passes one register per stage (``delays``: the
    ``(value, registers)`` pairs the hardware keeps); every output is registered at the end of
    the last stage, unless ``sum_register`` is False (then the activation reads the last
    stage's values directly). ``act``: the activation stage (:class:`~.trees.ThresholdPlan` or
    :class:`~.trees.ClampPlan` on the output values, :class:`~.trees.ArgmaxPlan`, or None).
    ``latency`` = ``stages`` (one less without the sum register) + the activation's.
    ``sum_bounds``: per output, the proven bounds of its sum (as the multiply-accumulate form
    proves them), which size raw outputs like every other architecture's (default: the
    graph's bounds). ``adders`` ``"ternary"``: each node of ``fused`` (node -> operand node)
    adds its operand's two operands and its other one in one three-input adder
    (:mod:`nomul.gateware.ternary`), the operand not built. Matches
    :func:`nomul.models.reference.weighted` and the layer's activation exactly.
    """

    leaves: tuple
    nodes: tuple
    outputs: tuple
    offsets: tuple
    activation: object
    n_inputs: int
    in_levels: int
    register_every: int = 1
    threshold_method: str = "auto"
    describe_as: tuple = ()
    sum_bounds: tuple = ()
    form: str = ""
    adders: str = "binary"
    sum_register: bool = True

    ii = 1

    def __post_init__(self):
        graph = Graph(self.leaves)
        for node in self.nodes:
            graph.node(*node)
        if len(graph.nodes) != len(self.nodes):
            raise ValueError("nodes must be distinct")
        register_every = as_int(self.register_every, "register_every", minimum=0)
        outputs = tuple(None if t is None else tuple(t) for t in self.outputs)
        stage, stages = _schedule(graph, register_every, outputs)
        delays = set()
        for node, (a, b, _, _) in enumerate(self.nodes, start=len(self.leaves)):
            for operand in (a, b):
                for d in range(1, stage[node] - stage[operand] + 1):
                    delays.add((operand, d))
        values = []
        for term in outputs:
            if term is None:
                values.append(Bounds(0, 0))
                continue
            for d in range(1, stages - stage[term[0]]):
                delays.add((term[0], d))
            values.append(graph.bounds[term[0]])
        act = self._activation(graph, outputs, values)
        if act is None and not self.sum_register:
            raise OptionsError("sum_register off needs an activation (thresholds or argmax) "
                               "to read the sums")
        fill(self, register_every=register_every, outputs=outputs, bounds=tuple(graph.bounds),
             stage=tuple(stage), stages=stages, delays=tuple(sorted(delays)),
             values=tuple(values), act=act, sum_register=bool(self.sum_register),
             latency=stages - (not self.sum_register) + (act.latency if act is not None
                                                          else 0))
        fill(self, fused=self._fusions(graph) if self.adders == "ternary" else {})

    def _activation(self, graph, outputs, values):
        """The activation stage on the output registers (the values, unshifted)."""
        if isinstance(self.activation, Thresholds):
            rows, complement = [], []
            for term, offset, row in zip(outputs, self.offsets, self.activation.rows,
                                         strict=True):
                mapped, flip = _node_thresholds(term, offset, row)
                rows.append(mapped)
                complement.append(flip)
            field = field_of(union(values + [Bounds(0, 0)]))
            method = str(self.threshold_method)
            clamp = ClampPlan.of(rows, values, field, complement) \
                if method in ("auto", "clamp") else None
            if method == "clamp" and clamp is None:
                raise OptionsError("threshold_method clamp needs every output's thresholds "
                                   "evenly spaced by a power of two")
            if clamp is not None and (method == "clamp" or clamp.cheaper):
                return clamp
            return ThresholdPlan(rows, field, "search" if method == "search" else "parallel",
                                 complement=tuple(complement))
        if isinstance(self.activation, Argmax):
            return ArgmaxPlan(tuple(values), self.register_every)
        return None

    def single_use_nodes(self):
        """The nodes read exactly once, by a node of their own stage (not carried by a
        register, not an output): the gateware emits each as an expression inside its user's,
        the same adder cells with fewer netlist signals (a faster build)."""
        first = len(self.leaves)
        reads = [0] * (first + len(self.nodes))
        for index, (a, b, _, _) in enumerate(self.nodes, start=first):
            for operand in (a, b):
                reads[operand] += 1 if self.stage[operand] == self.stage[index] else 2
        for term in self.outputs:
            if term is not None:
                reads[term[0]] += 2
        return {index for index in range(first, len(reads)) if reads[index] == 1}

    def _fusions(self, graph):
        """Node -> the operand node it takes into a three-input adder, saving the most adder
        bits. A node may take an operand read by it alone, in its stage
        (:meth:`single_use_nodes`), that takes none itself: the pairs form a forest (each
        such operand under its reader), and the matching that saves the most bits is found by
        dynamic programming over it, operands before readers (ties: no fusion, then the
        left operand). A shift (``0 + (b << s)``) neither takes nor is taken: it costs no
        adder. ``graph``: the plan's, built in ``__post_init__``."""
        single = self.single_use_nodes()
        first = len(self.leaves)
        cost = {index: adder_cost(graph, index, node)
                for index, node in enumerate(self.nodes, start=first)}
        operands = {index: [c for c in (a, b) if c in single and cost.get(c)]
                    for index, (a, b, _, _) in enumerate(self.nodes, start=first)
                    if cost[index]}
        # free[v]: the most bits saved below v when v may take an operand; held[v]: when v is
        # taken itself (its operands then free)
        free, held, pick = {}, {}, {}
        for index in range(first, first + len(self.nodes)):
            below = operands.get(index, [])
            held[index] = base = sum(free[c] for c in below)
            free[index], pick[index] = base, None
            for c in below:
                saved = cost[index] + cost[c] - self._fused_width(index, c)
                gain = base - free[c] + held[c] + saved
                if gain > free[index]:
                    free[index], pick[index] = gain, c
        fused = {}
        taken_operands = {c for below in operands.values() for c in below}
        stack = [(index, True) for index in range(first, first + len(self.nodes))
                 if index not in taken_operands]
        while stack:
            index, may_take = stack.pop()
            chosen = pick[index] if may_take else None
            if chosen is not None:
                fused[index] = chosen
            stack.extend((c, c != chosen) for c in operands.get(index, []))
        return dict(sorted(fused.items()))

    def _terms(self, index, child):
        """The three ``(value, shift, sign)`` node ``index`` adds when it takes its operand
        node ``child``: its left operand's first (unshifted, positive)."""
        first = len(self.leaves)
        a, b, shift, sign = self.nodes[index - first]
        x, y, inner_shift, inner_sign = self.nodes[child - first]
        if child == a:              # (x + s' (y << k')) + s (b << k)
            return [(x, 0, 1), (y, inner_shift, inner_sign), (b, shift, sign)]
        # a + s ((x + s' (y << k')) << k)
        return [(a, 0, 1), (x, shift, sign), (y, shift + inner_shift, sign * inner_sign)]

    def _fused_width(self, index, child):
        low = min(shift for _, shift, _ in self._terms(index, child)[1:])
        return max(1, self.bounds[index].width - low)

    @property
    def fused_operands(self):
        """The nodes :attr:`fused` takes into their readers' three-input adders: not built
        (nor costed) on their own."""
        return frozenset(self.fused.values())

    def fused_terms(self, index):
        """The three ``(value, shift, sign)`` that node ``index`` of :attr:`fused` adds, its
        left operand's first (unshifted, positive)."""
        return self._terms(index, self.fused[index])

    def fused_bits(self, index):
        """The bits the three-input adder of node ``index`` computes: its result's above the
        base operand's wired low bits."""
        return self._fused_width(index, self.fused[index])

    @property
    def kind(self):
        return self.activation.kind

    @property
    def in_port(self):
        return Vector(Field(index_width(self.in_levels)), self.n_inputs)

    @property
    def value_fields(self):
        """Each output register: the field of its value."""
        return tuple(field_of(b) for b in self.values)

    @property
    def out_port(self):
        if self.act is not None:
            return self.act.out_port
        return Vector(self.acc, len(self.outputs))

    @property
    def acc(self):
        """A field holding every output sum (the accumulator; raw outputs have this field)."""
        return field_of(union(tuple(self.sum_bounds or self.values) + (Bounds(0, 0),)))

    def describe(self):
        ternary = {"adders_ternary": len(self.fused)} if self.adders == "ternary" else {}
        return {**dict(self.describe_as), **({"graph": self.form} if self.form else {}),
                "adders": len(self.nodes) - len(self.fused), **ternary,
                "activation_unit": _unit_name(self.act),
                "accumulator_bits": self.acc.width, "latency": self.latency, "ii": self.ii}


def _unit_name(act):
    if isinstance(act, ThresholdPlan):
        return f"thresholds ({act.method})"
    return {ClampPlan: "clamp", ArgmaxPlan: "argmax"}.get(type(act), "none")


def _node_thresholds(term, offset, row):
    """``(thresholds on the value, complement)``: output ``sign * (value << shift) + offset``
    meets ``t`` exactly when the value meets the mapped threshold (``value >= u``), or, for
    ``sign = -1``, when it does not (``complement``: the count is ``T`` minus the count of
    ``value >= u``)."""
    if term is None:                         # a constant output: compare 0 with t - offset
        return tuple(sorted(t - offset for t in row)), False
    _, shift, sign = term
    step = 1 << shift
    if sign > 0:
        return tuple(-((offset - t) // step) for t in row), False       # ceil((t - C)/step)
    return tuple(sorted((offset - t) // step + 1 for t in row)), True


def _sum_bounds(layer, groups, outputs, bias):
    """Per output, the bounds of ``bias`` plus its terms' product columns (interval sums)."""
    column, found = {}, []
    for terms, b in zip(outputs, bias, strict=True):
        total = Bounds(b, b)
        for g, k in terms:
            key = (len(groups[g]), k)
            if key not in column:
                values, reachable = _column_values(layer.table, layer.in_levels, *key)
                column[key] = Bounds.of([values[c] for c in reachable])
            total = total + column[key]
        found.append(total)
    return tuple(found)


def _column_values(table, in_levels, members_levels, column):
    """A lookup leaf's ``values`` over every code of ``len(members)`` index fields."""
    codes = group_code_table(table, in_levels, members_levels)
    size = 1 << (members_levels * index_width(in_levels))
    return tuple(int(table[clamped_row(c, in_levels, members_levels)][column])
                 for c in range(size)), tuple(sorted(codes))


def _ragged_groups(n_inputs, g):
    """Consecutive groups of ``g`` inputs, the last one shorter when ``g`` does not divide."""
    return tuple(tuple(range(start, min(start + g, n_inputs)))
                 for start in range(0, n_inputs, g))


def _grouped_leaves(layer, g):
    """Table-form bags of a dense layer with scalar codebooks, ``g`` consecutive inputs looked
    up together (:func:`_ragged_groups`): per output, one lookup per group holding the sum of
    the group's products; lookups of the same group and codeword combination are shared;
    a combination whose sum is 0 everywhere is left out."""
    table, levels = layer.table, layer.in_levels
    rows, weight_index = layer.table.tolist(), layer.weight_index.tolist()
    leaves, made, bags = [], {}, []
    reachable_of, digits_of = {}, {}       # per group size: reachable codes, clamped digits
    for o in range(layer.out_channels):
        bag = []
        for members in _ragged_groups(layer.fan_in, g):
            combo = tuple(weight_index[o][e] for e in members)
            key = (members, combo)
            if key not in made:
                size = len(members)
                if size not in digits_of:
                    reachable_of[size] = sorted(group_code_table(table, levels, size))
                    digits_of[size] = [clamped_digits(code, levels, size)
                                       for code in range(1 << (index_width(levels) * size))]
                reachable = reachable_of[size]
                # an unreachable code holds the entry of its indices clamped to the top level
                # (nomul.design.tables: a don't-care chosen for smaller logic)
                values = [sum(rows[d][k] for d, k in zip(digits, combo, strict=True))
                          for digits in digits_of[size]]
                made[key] = None if not any(values) else len(leaves)
                if made[key] is not None:
                    leaves.append(LookupLeaf(members, tuple(values), tuple(reachable)))
            if made[key] is not None:
                bag.append((made[key], 0, 1))
        bags.append(bag)
    return leaves, bags


def _table_leaves(layer, groups, outputs):
    """Table-form bags: one lookup per (group, codeword) used, its column over the group's
    codes; a column that is 0 everywhere is left out."""
    leaves, made, bags = [], {}, []
    for terms in outputs:
        bag = []
        for g, k in terms:
            if (g, k) not in made:
                values, reachable = _column_values(layer.table, layer.in_levels,
                                                   len(groups[g]), k)
                made[(g, k)] = None if not any(values[c] for c in reachable) else len(leaves)
                if made[(g, k)] is not None:
                    leaves.append(LookupLeaf(groups[g], values, reachable))
            if made[(g, k)] is not None:
                bag.append((made[(g, k)], 0, 1))
        bags.append(bag)
    return leaves, bags


def _factored(layer, groups, outputs):
    """Factored-form leaves and bags, or None when a used column is not affine in the level:
    per output, one bag per non-zero slope (the inputs of that codeword) and how the bags
    combine (the slope's signed digits), and the constant part of the table."""
    if layer.group != 1:
        return None
    columns = affine_columns(layer.table, sorted({k for terms in outputs for _, k in terms}))
    if columns is None:
        return None
    elements = sorted({groups[g][0] for terms in outputs for g, _ in terms})
    leaf_of = {e: n for n, e in enumerate(elements)}
    leaves = [InputLeaf(e, layer.in_levels) for e in elements]
    bags, combos, constants = [], [], []
    for terms in outputs:
        by_slope, constant = {}, 0
        for g, k in terms:
            c0, slope = columns[k]
            constant += c0
            # one bag per slope: a bag for D and -D of signed leaves has fewer adder bits but
            # took 5 % more Yosys LUTs on the shared model's layer 2 (bench/RESULTS.md)
            if slope:
                by_slope.setdefault(slope, []).append((leaf_of[groups[g][0]], 0, 1))
        combo = []
        for slope, bag in sorted(by_slope.items()):
            combo += [(len(bags), shift, sign) for shift, sign in csd(slope)]
            bags.append(bag)
        combos.append(combo)
        constants.append(constant)
    return leaves, bags, combos, constants


def _graph_outputs(leaves, bags, combos, finals):
    """Build the graph: shared pairs across bags, each bag summed, then each output's
    combination of bags summed. ``finals``: per output the constant to add in the graph
    (argmax and raw outputs) or None (thresholds: folded into them). Returns ``(graph, output
    terms)``; an output with a final constant is ``(node, 0, +1)``."""
    constants = sorted({c for c in finals if c is not None})
    const_leaf = {c: len(leaves) + n for n, c in enumerate(constants)}
    graph = Graph(list(leaves) + [ConstLeaf(c) for c in constants])
    bags = share_pairs(graph, bags)
    sums = [sum_terms(graph, bag) for bag in bags]
    terms = sums
    if combos is not None:
        terms = []
        for combo in combos:
            parts = [(sums[bag][0], sums[bag][1] + shift, sums[bag][2] * sign)
                     for bag, shift, sign in combo if sums[bag] is not None]
            terms.append(sum_terms(graph, parts))
    results = []
    for term, final in zip(terms, finals, strict=True):
        if final is None or (final == 0 and term is not None and term[1:] == (0, 1)):
            results.append(term)
        elif term is None:
            results.append((const_leaf[final], 0, 1))
        else:
            results.append((graph.node(const_leaf[final], *term), 0, 1))
    return graph, results


def _adder_bits(graph):
    """The graph's adder bits (a shift or a sign of a constant 0 costs none)."""
    return sum(adder_cost(graph, n, node)
               for n, node in enumerate(graph.nodes, start=len(graph.leaves)))


def _lookup_bits(leaves):
    """A family-independent cost of the lookups: their non-constant output bits."""
    total = 0
    for leaf in leaves:
        if isinstance(leaf, LookupLeaf):
            values = [leaf.values[c] for c in leaf.reachable]
            varying = 0                     # the bits in which some value differs from the first
            for value in values:
                varying |= value ^ values[0]
            total += (varying & ((1 << Bounds.of(values).width) - 1)).bit_count()
    return total


def lower_unrolled(layer, in_shape, options, *, groups, outputs, bias, activation,
                   describe_as=()):
    """The :class:`UnrolledPlan` of a dense or conv layer reading ``in_shape``:
    ``groups``/``outputs`` its connectivity (every output position its own output), ``bias``
    and ``activation`` per output; ``options`` resolved (``group_inputs`` an int or
    ``"auto"``)."""
    grouping = options.group_inputs
    none = [0] * len(outputs)
    candidates = []                    # (form, leaves, bags, combos, constants) to try
    if grouping in ("auto", 1):
        candidates.append(("table", *_table_leaves(layer, groups, outputs), None, none))
    if grouping == "auto":
        factored = _factored(layer, groups, outputs)
        if factored is not None:
            candidates.append(("factored", *factored))
    if layer.kind == "dense" and layer.group == 1:
        widths = range(2, MAX_GROUP_BITS // index_width(layer.in_levels) + 1) \
            if grouping == "auto" else (grouping,) if grouping != 1 else ()
        for g in widths:
            candidates.append((f"grouped {g}", *_grouped_leaves(layer, g), None, none))
    best = None
    for form, leaves, bags, combos, constants in candidates:
        offsets = [b + c for b, c in zip(bias, constants, strict=True)]
        finals = [None] * len(offsets)
        if not isinstance(activation, Thresholds):   # argmax, raw: add the constants now
            base = min(offsets) if isinstance(activation, Argmax) else 0
            finals, offsets = [o - base for o in offsets], [base] * len(offsets)
        graph, terms = _graph_outputs(leaves, bags, combos, finals)
        cost = _adder_bits(graph) + _lookup_bits(leaves)
        if best is None or cost < best[0]:
            best = (cost, graph, terms, offsets, form)
    _, graph, terms, offsets, form = best
    return UnrolledPlan(tuple(graph.leaves), tuple(graph.nodes), tuple(terms), tuple(offsets),
                        activation, int(np.prod(in_shape)), layer.in_levels,
                        options.register_every, str(options.threshold_method), describe_as,
                        _sum_bounds(layer, groups, outputs, bias), form, str(options.adders),
                        sum_register=str(options.sum_register) == "on")
