# SPDX-License-Identifier: MIT
"""Cost features of plans: what drives the LUTs, FFs and carry cells of each stage.

:func:`features` reads one stage plan for the quantities that drive its cost:

- ``rom`` / ``rom_wide``: constant functions (product lookups, logic ROMs, per-tile
  constants). Each output bit of a constant table is a function of the address bits it really
  depends on (a constant or a copy of one input costs nothing); identical bit functions of the
  same inputs are counted once, as Yosys merges them. A function that fits one LUT counts 1 in
  ``rom``; a wider one counts ``2**(inputs - lut_inputs)`` (its leaf LUTs) in ``rom_wide``,
  whose coefficient says what ABC's decomposition really costs (``memory_wide`` for the wide
  bits of a ROM memory left to logic, the folded weight ROM; on LUT6 its leaf LUTs times the
  address bits beyond one LUT). On a family whose LUT trees share equal leaves
  (``shared_leaves``, iCE40) the wide functions read together count their distinct leaf LUTs
  instead (:func:`_distinct_leaves`). For 2-input gates a wide function counts the nodes of its
  shared BDD instead (:func:`_bdd_nodes`);
- ``adder``: adder bits (adder trees, accumulators), from the proven bounds of every node;
- ``compare``: bits of comparisons against thresholds; ``compare_const``: comparisons with
  constants (a bank of sorted ones shares logic, :func:`activation_features`);
- ``step``: the input quantizer's table of raw codes (a monotone step function per sample):
  each bit function's leaf LUTs or, when fewer, its BDD nodes per LUT (:func:`_step_function`);
- ``sample_compare`` / ``sample_count``: a quantizer whose table would be too big compares each
  sample against every threshold (compared bits) and counts the results (count adder bits);
- ``mux``: 2:1 multiplexer bits (the folded working vector, compare-select trees);
- ``saturate``: output bits of a clamp that does not subtract (a saturation: each bit one
  function of the two compares and an input bit);
- ``ff``: register bits (constant register bits are left out: Yosys removes them);
- ``stage``: one per component (handshake and counters);
- ``multipliers`` (the multiplier baselines): one ``(a_bits, b_bits, constant or None)`` per
  multiplication, which the estimator places in a DSP or in logic.

Memories (the folded weight ROM and product tables) are listed apart
(:class:`~.plans.Memory`); the estimator maps each to block RAM or logic
(:mod:`nomul.hw.estimate`), and a memory left to logic adds :func:`memory_logic` features.
The features depend on the family only through its LUT size (``lut_inputs``; 2 for 2-input
gates) and whether its LUT trees share equal leaves (``shared_leaves``,
:attr:`nomul.hw.families.Family.shared_leaves`).
"""

from functools import lru_cache

import numpy as np

from ..numeric import Bounds, index_width
from .graph import Graph, InputLeaf, LookupLeaf, adder_cost
from .plans import (
    WEIGHT_CHUNK,
    WEIGHT_PIECE,
    DeserializerPlan,
    FoldedConvPlan,
    FoldedPlan,
    MacUnrolledPlan,
    Memory,
    QuantizerPlan,
    acc_low_bits,
)
from .tables import group_code_table
from .trees import ArgmaxPlan, ClampPlan, ThresholdPlan
from .unrolled import UnrolledPlan

__all__ = ["FEATURES", "features", "new_features", "activation_features", "memory_logic",
           "table_function_luts"]

FEATURES = ("rom", "rom_wide", "memory_wide", "select", "adder", "adder_narrow", "compare",
            "compare_const", "step", "sample_compare", "sample_count", "mux", "saturate", "ff",
            "stage")


# -- constant functions -------------------------------------------------------------------

def _bit_functions(values, address_bits, width):
    """``{truth table: support size}`` of every non-constant output bit of a constant table
    ``values[address]`` (ints of any size, two's complement in ``width`` bits; missing
    addresses read 0)."""
    size, mask, nbytes = 1 << address_bits, (1 << width) - 1, (width + 7) // 8
    raw = b"".join((int(v) & mask).to_bytes(nbytes, "little") for v in values)
    raw += bytes(nbytes * (size - len(values)))
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(size, nbytes), axis=1,
                         bitorder="little")[:, :width]
    varies = bits.min(axis=0) != bits.max(axis=0)
    support = np.zeros(width, dtype=np.int64)
    for a in range(address_bits):
        pairs = bits.reshape(-1, 2, 1 << a, width)
        support += np.any(pairs[:, 0] != pairs[:, 1], axis=(0, 1))
    columns = np.ascontiguousarray(bits.T)
    return {columns[j].tobytes(): int(support[j]) for j in range(width) if varies[j]}


def table_function_luts(values, address_bits, width, lut_inputs, shared_leaves=False):
    """``(narrow, wide, registers)`` of a constant table read through its ``address_bits``,
    over its distinct non-constant bit functions: ``narrow`` counts those that fit one LUT,
    ``wide`` the cost units of the others (:func:`_function_costs`; ``shared_leaves``: their
    distinct leaf LUTs)."""
    distinct = _bit_functions(values, address_bits, width)
    return (*_function_costs(distinct, address_bits, lut_inputs, shared_leaves),
            len(distinct))


def _function_costs(distinct, address_bits, lut_inputs, shared_leaves=False):
    """``(narrow, wide)`` of bit functions ``{truth table: support}`` over ``address_bits``:
    ``narrow`` counts those that fit one LUT; ``wide`` the others' leaf LUTs
    (``2**(support - lut_inputs)``), or with ``shared_leaves`` their distinct leaf LUTs
    (:func:`_distinct_leaves`), or for 2-input gates the nodes of their shared BDD
    (:func:`_bdd_nodes`: a random ROM's gate count grows as ``2**n / n``, not ``2**n``)."""
    narrow, wide = _function_counts(distinct.values(), lut_inputs)
    if wide and (lut_inputs == 2 or shared_leaves):
        tables = [table for table, support in distinct.items() if support > lut_inputs]
        wide = _bdd_nodes(tables, address_bits) if lut_inputs == 2 else \
            _distinct_leaves(tables, lut_inputs)
    return narrow, wide


def _distinct_leaves(tables, lut_inputs):
    """The leaf LUTs of wide bit functions (truth tables over the same address bits, a byte of
    0/1 per address) whose mux trees share equal leaves: their distinct non-constant cofactors
    on the low ``lut_inputs`` address bits. A leaf is one LUT of those bits; the same leaf
    under several values of the high bits, in one function or in several, is built once, and a
    constant leaf is no LUT. On iCE40, whose mux trees are LUTs, the functions of one lookup
    (a product table of a group of inputs, saturating or with unreachable codes clamped to the
    top level) share most of their leaves: their LUTs follow this count, not ``2**(support -
    lut_inputs)`` per function (bench/RESULTS.md)."""
    leaves = np.frombuffer(b"".join(tables), dtype=np.uint8).reshape(-1, 1 << lut_inputs)
    leaves = leaves[np.any(leaves != leaves[:, :1], axis=1)]
    if not len(leaves):
        return 0
    packed = np.packbits(leaves, axis=1)
    return len(np.unique(packed.view(np.dtype((np.void, packed.shape[1])))))


def _bdd_nodes(tables, address_bits):
    """Nodes of the shared reduced ordered BDD of truth tables (``2**address_bits`` bytes of
    0/1 each), the most significant address bit at the root: the distinct subfunctions, at
    each level, that depend on that level's bit. Each node is one 2:1 mux of a mux tree with
    every equal subtree shared, which is what ABC's gate count follows (about 1.5 gates a
    node on random ROMs)."""
    functions = np.frombuffer(b"".join(tables), dtype=np.uint8).reshape(len(tables), -1)
    nodes = 0
    for level in range(address_bits):
        size = 1 << (address_bits - level)
        rows = functions.reshape(-1, size)
        rows = rows[np.any(rows[:, :size // 2] != rows[:, size // 2:], axis=1)]
        if len(rows):
            packed = np.packbits(rows, axis=1)
            nodes += len(np.unique(packed.view(np.dtype((np.void, packed.shape[1])))))
    return nodes


def _function_counts(supports, lut_inputs):
    narrow = wide = 0
    for support in supports:
        if support > lut_inputs:
            wide += 1 << (support - lut_inputs)
        elif support > 1:
            narrow += 1
    return narrow, wide


@lru_cache(maxsize=4096)
def _cached_table_luts(words, address_bits, width, lut_inputs, shared_leaves):
    return table_function_luts(words, address_bits, width, lut_inputs, shared_leaves)


# -- memories ----------------------------------------------------------------------------


# -- features per component ---------------------------------------------------------------

def new_features():
    """A feature dict with every feature at 0."""
    return dict.fromkeys(FEATURES, 0)


def _quantizer(plan, lut_inputs, shared_leaves=False):
    f = new_features()
    bits, registers = plan.raw.width, plan.elements * plan.index.width
    if plan.style == "identity":           # raw - raw_min: wires where raw_min has zero bits
        f["adder"] += plan.elements * _constant_add_bits(-plan.raw_min, plan.index.width)
    elif plan.style == "lookup":           # one step function of the raw bits per sample
        registers = 0
        for n in _distinct_elements(plan):
            units, varying = _step_function(tuple(plan.lookup_table(n)), bits,
                                            plan.index.width, lut_inputs)
            f["step"] += _elements_like(plan, n) * units
            registers += _elements_like(plan, n) * varying
    else:                                  # comparators against constants, then a count
        for n in _distinct_elements(plan):
            compared = len(plan.compared_thresholds(n))
            f["sample_compare"] += _elements_like(plan, n) * compared * bits
            f["sample_count"] += _elements_like(plan, n) * max(0, compared - 1)
    if plan.registered:
        f["ff"] += registers + 1
    return f, []


def _constant_add_bits(constant, width):
    """The adder bits of ``x + constant`` modulo ``2**width``: none below the constant's lowest
    set bit (those bits of ``x`` pass unchanged), none at all for a multiple of ``2**width``
    (``raw - 0`` is the raw sample itself)."""
    constant %= 1 << width
    return 0 if constant == 0 else width - ((constant & -constant).bit_length() - 1)


def _distinct_elements(plan):
    """One sample element per distinct threshold set (all of them share one when the
    thresholds are shared)."""
    if not plan.per_feature:
        return [0]
    first = {}
    for n, row in enumerate(plan.thresholds):
        first.setdefault(row, n)
    return sorted(first.values())


def _elements_like(plan, n):
    """How many sample elements have element ``n``'s thresholds."""
    if not plan.per_feature:
        return plan.elements
    return sum(1 for row in plan.thresholds if row == plan.thresholds[n])


@lru_cache(maxsize=256)
def _step_function(table, address_bits, width, lut_inputs):
    """``(LUT units, non-constant bits)`` of a quantizer's table of raw codes: each distinct
    bit function costs the smaller of its leaf LUTs and its BDD's nodes packed ``lut_inputs -
    1`` to a LUT (a monotone step function's BDD stays small where its leaf count doubles with
    every address bit)."""
    distinct = _bit_functions(table, address_bits, width)
    units = 0.0
    for function, support in distinct.items():
        if support > 1:
            leaves = 1 << max(0, support - lut_inputs)
            units += min(leaves, max(1.0, _bdd_nodes([function], address_bits)
                                     / (lut_inputs - 1)))
    return units, len(distinct)


def _deserializer(plan, lut_inputs, shared_leaves=False):
    f = new_features()
    bits = plan.out_port.bits
    f["ff"] += bits + index_width(plan.ii) + 1
    f["mux"] += bits if plan.ii > 1 else 0
    return f, []


def _thresholds(rows, width, method, outputs_bits, f):
    t = len(rows[0])
    f["compare"] += len(rows) * t * width
    f["adder"] += len(rows) * max(0, t - 1)
    f["ff"] += len(rows) * outputs_bits
    if method == "search":                 # one compare per stage, accumulators carried
        f["ff"] += len(rows) * width * max(0, outputs_bits - 1)


def _argmax_features(bounds, depth, register_every, f):
    n = len(bounds)
    width = max(b.width for b in bounds)
    f["compare"] += (n - 1) * width
    f["mux"] += (n - 1) * (width + index_width(n))
    registers = depth // register_every if register_every else 0
    f["ff"] += registers * max(1, n // 2) * (width + index_width(n)) + index_width(n)


ZERO = ("zero",)


def _shared_tree(leaves, level_bounds, registered, seen, f, *, bias=0, bias_level=None,
                 narrow=None, as_function=None):
    """One adder tree, counting only nodes not already in ``seen``: trees whose first levels
    add the same leaves share those adders and registers (Yosys merges them), and a
    constant-zero leaf (:data:`ZERO`) costs nothing. ``leaves`` are hashable identities,
    ``level_bounds[level][j]`` the node bounds, ``registered(level)`` whether a register
    follows a level, ``bias_level`` as :class:`~nomul.gateware.adder_tree.AdderTree`'s.
    ``narrow(node)``: whether an adder's inputs fit one LUT (counted in ``adder_narrow``).
    ``as_function(node, width)``: for 2-input gates, the cost of an adder over few input bits
    as the constant function it is (:func:`_small_sums`), or None to count it as an adder."""
    nodes = list(leaves)
    if bias_level == -1:
        nodes[0] = ("bias", nodes[0], bias)
        f["adder"] += level_bounds[0][0].width
    for level in range(1, len(level_bounds)):
        upper = []
        for j in range(0, len(nodes), 2):
            width = level_bounds[level][j // 2].width
            if j + 1 < len(nodes):
                left, right = nodes[j], nodes[j + 1]
                node = left if right == ZERO else right if left == ZERO else ("sum", left, right)
            elif level - 1 == bias_level:
                node = ("bias", nodes[j], bias)
            else:
                node = nodes[j]
            if node[0] in ("sum", "bias") and ("add", node) not in seen:
                seen.add(("add", node))
                function = as_function(node, width) if as_function else None
                if function is not None:
                    f["adder_narrow"] += function
                else:
                    f["adder_narrow" if narrow and narrow(node) else "adder"] += width
            if registered(level):
                node = ("reg", level, node)
                if node not in seen and node[2] != ZERO:
                    seen.add(node)
                    f["ff"] += width
            upper.append(node)
        nodes = upper


def _multiplier(f, a_bits, weight, b_bits):
    """One ``a_bits`` x ``b_bits`` multiplication (``weight``: its constant, or None), listed
    under ``"multipliers"`` for :func:`estimate_stage` to place in a DSP or in logic."""
    f.setdefault("multipliers", []).append((a_bits, b_bits, weight))
    f["ff"] += a_bits + b_bits


def _mac_lookup(plan, f, lut_inputs):
    lookup = plan.lookup
    w_bits = max(abs(w) for w in lookup.weights).bit_length() + 1
    for _, k in lookup.pairs:
        _multiplier(f, lookup.index.width, lookup.weights[k], w_bits)
    _unrolled_rest(plan, f, lut_inputs)
    return f, []


def _shared_trees(plan, f, lut_inputs):
    """The adder trees of an unrolled layer (see :func:`_shared_tree`); an adder whose inputs
    depend on few enough input bits to fit one LUT counts as ``adder_narrow``."""
    code_bits = plan.lookup.code_bits
    pairs = plan.lookup.pairs
    groups = {}                                     # node -> the input groups it depends on

    def support(node):
        if node not in groups:
            kind = node[0]
            groups[node] = frozenset() if kind == "zero" else \
                frozenset((pairs[node[1]][0],)) if kind == "term" else \
                support(node[1]) | support(node[2]) if kind == "sum" else \
                support(node[2]) if kind == "reg" else support(node[1])
        return groups[node]

    as_function = None
    if lut_inputs == 2 and not plan.lookup.multiplies:
        as_function = _small_sums(plan.lookup, code_bits, support)
    seen = set()
    for sources, tree in zip(plan.sources, plan.trees, strict=True):
        leaves = [("term", p) for p in sources] + [ZERO] * (len(tree.term_bounds) - len(sources))
        _shared_tree(leaves, tree.level_bounds,
                     lambda level, t=tree: level == t.depth or (
                         t.register_every and level % t.register_every == 0),
                     seen, f, bias=tree.bias, bias_level=tree.bias_level,
                     narrow=lambda node: len(support(node)) * code_bits <= lut_inputs,
                     as_function=as_function)
    f["ff"] += 1 + len(plan.trees[0].term_bounds).bit_length()    # valid pipeline


SMALL_SUM_BITS = 2          # gates: a sum over at most this many input bits may be a function
GATES_PER_BDD_NODE, GATES_PER_ADDER_BIT = 1.5, 5     # first-principle costs, to choose


def _small_sums(lookup, code_bits, support):
    """For 2-input gates: ``cost(node, width)``, the gate-level cost (narrow functions plus
    BDD nodes, :func:`_function_costs`) of an unrolled tree node whose value depends on at
    most :data:`SMALL_SUM_BITS` input bits, when that is cheaper than its adder; else None.
    With 1-bit activations the first level of a tree adds two such terms: ABC reduces each
    sum to its 2-input functions, far below an adder's gates (allowing 4 input bits, the next
    level, made the held-out fit worse). ``support(node)``: the input groups a node depends
    on, each ``code_bits`` wide."""
    columns = np.array(lookup.columns(), dtype=np.int64)
    values = {}

    def value(node):
        """``(groups, array)``: the node's value, one array axis per input group (sorted)."""
        if node not in values:
            kind = node[0]
            if kind == "zero":
                values[node] = ((), np.zeros((), dtype=np.int64))
            elif kind == "term":
                g, k = lookup.pairs[node[1]]
                values[node] = ((g,), columns[k])
            elif kind == "reg":
                values[node] = value(node[2])
            elif kind == "bias":
                groups, array = value(node[1])
                values[node] = (groups, array + node[2])
            else:
                (g1, a1), (g2, a2) = value(node[1]), value(node[2])
                groups = tuple(sorted(set(g1) | set(g2)))
                values[node] = (groups, _on_axes(a1, g1, groups) + _on_axes(a2, g2, groups))
        return values[node]

    def cost(node, width):
        bits = len(support(node)) * code_bits
        if bits > SMALL_SUM_BITS:
            return None
        _, array = value(node)
        distinct = _bit_functions(array.ravel().tolist(), bits, width)
        gates = sum(_function_costs(distinct, bits, 2))
        return gates if GATES_PER_BDD_NODE * gates < GATES_PER_ADDER_BIT * width else None

    return cost


def _on_axes(array, groups, all_groups):
    """``array`` (one axis per group of ``groups``) broadcast over ``all_groups``' axes."""
    return array.reshape([array.shape[groups.index(g)] if g in groups else 1
                          for g in all_groups])


def _unrolled(plan, lut_inputs, shared_leaves=False):
    f = new_features()
    lookup = plan.lookup
    if lookup.multiplies:                             # the multiplier baseline
        return _mac_lookup(plan, f, lut_inputs)
    address_bits = lookup.code_bits
    width = lookup.term.width
    column_values = [_bit_functions(column, address_bits, width)
                     for column in lookup.columns()]
    by_group = {}
    for g, k in lookup.pairs:
        by_group.setdefault(g, set()).add(k)
    for used in by_group.values():
        distinct = {}
        for k in used:
            distinct.update(column_values[k])
        _add_rom(f, _function_costs(distinct, address_bits, lut_inputs, shared_leaves))
        f["ff"] += len(distinct)
    _unrolled_rest(plan, f, lut_inputs)
    return f, []


def _unrolled_rest(plan, f, lut_inputs):
    """An unrolled layer after its lookups: adder trees and the activation."""
    _shared_trees(plan, f, lut_inputs)
    if isinstance(plan.act, ThresholdPlan):
        _thresholds(plan.act.rows, plan.act.in_field.width, plan.act.method,
                    plan.act.out.width, f)
    elif isinstance(plan.act, ArgmaxPlan):
        _argmax_features(plan.act.bounds, plan.act.depth, plan.act.register_every, f)
    f["stage"] += 1


def _per_tile_registered(values, tiles, lut_inputs, f, shared_leaves=False):
    """A constant chosen by the tile counter ahead and registered
    (:meth:`~nomul.gateware.folded.FoldedDense._per_tile_ahead`): its logic and, unless it is
    one constant, its registers."""
    _add_rom(f, _per_tile_luts(values, tiles, lut_inputs, shared_leaves))
    if len(set(values)) > 1:                          # chunks of 16, then the choice
        f["ff"] += (max(abs(v) for v in values).bit_length() + 1) \
            * (1 + (-(-tiles // 16) if tiles > 16 else 0))


def _folded(plan, lut_inputs, shared_leaves=False):
    f = new_features()
    vector = plan.in_port.bits
    tile_bits = plan.simd * plan.code_bits
    tags = index_width(plan.nf) + 4                   # valid, first, last_sf, nf, last_nf
    # the controller: buffers, counters, end tests, load, enable, deliver; the acc_high
    # stage's tags (ii > 1: the accept register; a single buffer: the working vector and
    # its ready register alone)
    f["ff"] += (2 - plan.single_buffer) * vector + 2 * index_width(plan.ii) + 13 \
        + (plan.ii > 1) - 2 * plan.single_buffer + (tags + 1) * plan.acc_split
    # the weight ROM's word registered (from block RAM twice); the tile and the tags waiting
    # two (three: the block RAM's fabric register or the logic chunks' step) cycles for it
    far = plan.weight_in_block_ram
    f["ff"] += (1 + far) * plan.weight_width \
        + (2 + (far or bool(plan.weight_chunks))) * (tile_bits + tags)
    f["mux"] += vector
    ports = plan.lane_sequences()
    memories = []
    if plan.weight_chunks:               # logic, in three registered steps: pieces, chunks
        words = plan.weight_words()
        piece_bits, low = WEIGHT_PIECE.bit_length() - 1, WEIGHT_CHUNK.bit_length() - 1
        pieces = -(-len(words) // WEIGHT_PIECE)
        for q in range(pieces):
            piece = _bit_functions(words[q * WEIGHT_PIECE:(q + 1) * WEIGHT_PIECE], piece_bits,
                                   plan.weight_width)
            _add_rom(f, _function_costs(piece, piece_bits, lut_inputs, shared_leaves))
        # each chunk chooses among its pieces (a registered 4:1 multiplexer a bit: one LUT on
        # 6-input LUTs, three 2:1 multiplexers' worth on 4-input ones), the word among the
        # chunks
        f["mux" if lut_inputs < 6 else "select"] += plan.weight_width \
            * (pieces - plan.weight_chunks)
        f["select"] += plan.weight_width * (plan.weight_chunks - 1)
        # the pieces, the chunks, the middle address bits, the high ones twice
        f["ff"] += (pieces + plan.weight_chunks) * plan.weight_width + low - piece_bits \
            + 2 * (index_width(plan.ii) - low)
    else:
        memories.append(Memory("weight ROM", plan.weight_depth, plan.weight_width, 1,
                               plan.weight_style, tuple(plan.weight_words())))
    if plan.multiplies:                               # the multiplier baselines
        if plan.codebook_rom:                         # the weight from a K-entry ROM
            codebook = _bit_functions(plan.weights, plan.codeword_bits,
                                      plan.weight_field.width)
            for _ in range(plan.pe * plan.simd):
                _add_rom(f, _function_costs(codebook, plan.codeword_bits, lut_inputs,
                                            shared_leaves))
            f["ff"] += plan.pe * plan.simd * plan.weight_field.width + tile_bits + tags
        for _ in range(plan.pe * plan.simd):
            _multiplier(f, plan.code_bits, None, plan.weight_field.width)
    else:
        distinct_ports = len({(s, ports[p][s]) for p in range(plan.pe)
                              for s in range(plan.simd)})
        memories.append(Memory(
            "product table", plan.table_depth, plan.term.width, distinct_ports,
            plan.table_style,
            logic=lambda f, lut_inputs, shared_leaves: _table_logic(
                plan, ports, lut_inputs, f, shared_leaves)))
        reads = sum(b.width for lane in plan.lane_bounds for b in lane)
        f["ff"] += reads                                              # reads registered
        if plan.table_style == "logic":      # in halves: a second half and the half bit
            f["ff"] += plan.pe * plan.simd * (plan.term.width + 1)
    seen = set()
    for p in range(plan.pe):
        _shared_tree([("port", s, ports[p][s]) for s in range(plan.simd)],
                     plan.tree_bounds[p],
                     lambda level: plan.register_every and level % plan.register_every == 0,
                     seen, f)
        acc = plan.acc_fields[p].width
        f["adder"] += acc
        if lut_inputs < 6:    # on 6-input LUTs the start-or-sum select shares the adder's LUT
            f["mux"] += acc
        f["ff"] += acc
        if plan.acc_split:             # the low half delayed, its carry, the high parts
            low, biases = acc_low_bits(acc), {plan.bias[n * plan.pe + p] for n in range(plan.nf)}
            term = plan.tree_bounds[p][-1][0].width
            f["ff"] += low + 1 + max(1, term - low) + (max(1, acc - low) if len(biases) > 1
                                                       else 0)
        _per_tile_registered([plan.bias[n * plan.pe + p] for n in range(plan.nf)], plan.nf,
                             lut_inputs, f, shared_leaves)
    if plan.kind == "argmax":
        bounds = plan.final_bounds
        _argmax_features(bounds, plan.max_depth, plan.register_every, f)
        f["compare"] += max(b.width for b in bounds)
        # the running maximum, its index, the first-tile register
        f["ff"] += max(b.width for b in bounds) + index_width(len(plan.sum_bounds)) + 1
        if plan.sf > 1:              # the compare stage: its halves, the value and index
            f["ff"] += max(b.width for b in bounds) + index_width(len(plan.sum_bounds)) + 4
    elif plan.kind == "thresholds":
        t = plan.activation.count
        for p in range(plan.pe):
            for j in range(t):
                _per_tile_registered(plan.per_tile_thresholds(p, j), plan.nf, lut_inputs, f,
                                     shared_leaves)
            f["compare"] += t * plan.acc_fields[p].width
            f["adder"] += max(0, t - 1)
            # the compare stage's halves, the join stage; the count stage
            f["ff"] += 4 * t + (t > 1) * index_width(t + 1)
        # the join and count stages' tags (valid, nf, last_nf, done); the collector, its
        # look-ahead shift enable, the output register's load
        f["ff"] += (1 + (t > 1)) * (index_width(plan.nf) + 3) \
            + plan.outputs * index_width(t + 1) + index_width(plan.nf) + 2 \
            + (plan.nf > 1 and plan.ii > 1)
    else:
        f["ff"] += len(plan.sum_bounds) * plan.acc.width
    f["ff"] += plan.out_port.bits + 1
    f["stage"] += 1
    return f, memories


def _table_logic(plan, lanes, lut_inputs, f, shared_leaves=False):
    """The product table as logic: ``pe*simd`` read ports, port ``(p, s)`` addressed by the
    code of input slot ``s`` and the codeword its weight field holds (``lanes``, as
    :meth:`~.plans.FoldedPlan.lane_sequences` gives them). Counted as the cheapest
    of three decompositions: per codeword, a function of the code bits (shared by the ports of
    one slot) and a codeword-select mux per port; per code, a function of the codeword bits and
    a code-select mux per port; or per port, one function of all its address bits. Ports of
    one slot that always hold the same codeword sequence are one port (Yosys merges them).
    Adds ``rom``/``rom_wide`` (leaf functions), ``select`` (mux inputs beyond the first, per
    bit) and ``ff`` (port registers)."""
    code_bits, width = plan.code_bits, plan.term.width
    table = plan.table_words()
    ports = {(s, lanes[p][s]): sorted(set(lanes[p][s]))
             for p in range(plan.pe) for s in range(plan.simd)}
    codes = len(group_code_table(plan.table, plan.in_levels, plan.group))
    # (a) per codeword: leaves of the code bits, per slot
    columns = {}
    by_slot = {}
    for (s, _), used in ports.items():
        by_slot.setdefault(s, set()).update(used)
    leaves_a = [0, 0]
    for used in by_slot.values():
        distinct = {}
        for k in used:
            if k not in columns:
                columns[k] = _bit_functions(table[k << code_bits:(k + 1) << code_bits],
                                           code_bits, width)
            distinct.update(columns[k])
        narrow, wide = _function_costs(distinct, code_bits, lut_inputs, shared_leaves)
        leaves_a[0] += narrow
        leaves_a[1] += wide
    select_a = sum(width * (len(used) - 1) for used in ports.values())
    # (b) per code: leaves of the codeword bits, per port
    leaves_b = [0, 0]
    for used in ports.values():
        cw_bits = index_width(len(used))
        narrow, wide = _function_counts([cw_bits] * width * codes if len(used) > 1 else [],
                                        lut_inputs)
        leaves_b[0] += narrow
        leaves_b[1] += wide
    select_b = sum(width * (codes - 1) for used in ports.values() if len(used) > 1)
    # (c) per port: one function of all its address bits
    direct = [0, 0]
    for used in ports.values():
        if len(used) == 1:
            continue                                  # a constant codeword: a leaf of (a)
        bits = code_bits + index_width(len(used))
        narrow, wide = _function_counts([bits] * width, lut_inputs)
        direct[0] += narrow
        direct[1] += wide
    direct_select = 0
    if any(len(used) == 1 for used in ports.values()):
        direct = [direct[0] + leaves_a[0], direct[1] + leaves_a[1]]
    # rough LUT costs to pick the cheapest: a 2:1 mux input is a LUT4 or a third of a LUT6; a
    # wide leaf unit brings its share of the mux tree on a LUT4
    mux_cost, wide_cost = (1.0, 2.0) if lut_inputs < 6 else (1 / 3, 1.0)
    choices = [(*leaves_a, select_a), (*leaves_b, select_b), (*direct, direct_select)]
    if select_b == 0:
        choices[1] = choices[0]
    narrow, wide, select = min(choices, key=lambda c: c[0] + wide_cost * c[1]
                               + mux_cost * c[2])
    _add_rom(f, (narrow, wide))
    f["select"] += select
    f["ff"] += len(ports) * width


def _per_tile_luts(values, tiles, lut_inputs, shared_leaves=False):
    """``(narrow, wide)`` of a constant chosen by the tile counter: one function of
    ``index_width(tiles)`` bits per non-constant bit."""
    if len(set(values)) == 1:
        return 0, 0
    bits = max(index_width(tiles), 1)
    width = max(abs(v) for v in values).bit_length() + 1
    return _cached_table_luts(tuple(values), bits, width, lut_inputs, shared_leaves)[:2]


def _add_rom(features, counts):
    features["rom"] += counts[0]
    features["rom_wide"] += counts[1]


def _folded_conv(plan, lut_inputs, shared_leaves=False):
    f, memories = _folded(plan.engine, lut_inputs, shared_leaves)
    window = plan.window
    patch_bits = window.patch_size * (window.index_width + 1) + 1    # taps, pad bits, last
    f["ff"] += window.in_port.bits + plan.collector.out_port.bits
    f["mux"] += patch_bits * 2
    f["stage"] += 2
    return f, memories


def _graph_layer(plan, lut_inputs, shared_leaves=False):
    """An unrolled layer's adder graph: its lookups (each group's distinct bit functions, as
    Yosys merges equal ones), its adders (``adder``, or ``adder_narrow`` when the node's inputs
    fit one LUT), its three-input adders of ``adders="ternary"`` (listed under ``"ternary"``
    by their bits, for :func:`~nomul.hw.estimate.estimate_stage` to count as the primitives
    they are; a fused operand costs nothing), its registers (the stage delays, the output
    values unless the activation reads them directly, the valid bits) and the activation."""
    f = new_features()
    index_bits = index_width(plan.in_levels)
    by_members = {}
    for leaf in plan.leaves:
        if isinstance(leaf, LookupLeaf):
            bits = len(leaf.members) * index_bits
            width = leaf.bounds.union(Bounds(0, 0)).width
            by_members.setdefault(leaf.members, {}).update(
                _bit_functions(leaf.values, bits, width))
    for members, distinct in by_members.items():
        _add_rom(f, _function_costs(distinct, len(members) * index_bits, lut_inputs,
                                    shared_leaves))
    support = [frozenset((leaf.element,)) if isinstance(leaf, InputLeaf) else
               frozenset(getattr(leaf, "members", ())) for leaf in plan.leaves]
    graph = _graph_of(plan)
    taken = plan.fused_operands             # built inside their reader's three-input adder
    for index, node in enumerate(plan.nodes, start=len(plan.leaves)):
        a, b, _, _ = node
        support.append(support[a] | support[b])
        if index in plan.fused:
            f.setdefault("ternary", []).append(plan.fused_bits(index))
            continue
        bits = 0 if index in taken else adder_cost(graph, index, node)
        narrow = len(support[index]) * index_bits <= lut_inputs
        f["adder_narrow" if narrow else "adder"] += bits
    f["ff"] += sum(plan.bounds[v].width for v, _ in plan.delays)
    if plan.sum_register:
        f["ff"] += sum(field.width for term, field in zip(plan.outputs, plan.value_fields,
                                                          strict=True) if term is not None)
    f["ff"] += plan.stages - (not plan.sum_register)
    activation_features(plan.act, plan.values, f, lut_inputs=lut_inputs,
                        shared_leaves=shared_leaves)
    f["stage"] += 1
    return f, []


def activation_features(act, values, f, *, lut_inputs, shared_leaves=False):
    """Add an unrolled layer's activation unit (``act`` on inputs within ``values``) to
    ``f``, counted as :class:`~nomul.gateware.threshold.ThresholdBank` and
    :class:`~nomul.gateware.threshold.Clamp` build it: comparisons with constants
    (``compare_const``, :func:`_compared_bits`), counts and subtractions (``adder``),
    multiplexers, a binary search's threshold selection and comparisons with the selected
    threshold (:func:`_search_stage`), registers. ``lut_inputs``: the family's LUT size (2 for
    2-input gates); ``shared_leaves``: whether its LUT trees share equal leaves
    (:func:`_function_costs`)."""
    if isinstance(act, ThresholdPlan):
        width, out = act.in_field.width, act.out.width
        lo = act.in_field.bounds.lo
        if act.method == "parallel":        # a comparator per threshold, then a count
            for row, value in zip(act.rows, values, strict=True):
                reachable = [t for t in row if value.lo < t <= value.hi]
                f["compare_const"] += _compared_bits(reachable, lo, width)
                f["adder"] += _popcount_units(len(reachable), lut_inputs)
            f["ff"] += len(act.rows) * out
        else:     # one stage per count bit, a threshold selected from the bits found so far
            stages = act.stages
            for row in act.clamped:
                for stage in range(stages):
                    _search_stage(act, row, stage, lut_inputs, f, shared_leaves)
            # per row: the input and the bits found so far carried to the next stage, the
            # count out; a valid bit per stage
            f["ff"] += len(act.rows) * ((stages - 1) * width + stages * (stages + 1) // 2) \
                + stages
    elif isinstance(act, ClampPlan):
        width, out = act.in_field.width, act.out.width
        for always, count, base, shift in act.units:
            if count > 2:
                # the borrow compares the low bits with the base's, when it has any; the
                # subtraction changes the quotient's bits from its constant's lowest set one
                borrow = shift and base & ((1 << shift) - 1)
                f["compare_const"] += 2 * width + (shift if borrow else 0)
                adder = out if borrow else _constant_add_bits(1 + always - (base >> shift), out)
                # with no subtraction (or one that only inverts the top bit) each output bit is
                # one function of the two compares and an input bit, a saturation; else a
                # multiplexer after the subtraction
                subtracts = adder > 1
                f["adder"] += adder if subtracts else 0
                f["mux" if subtracts else "saturate"] += out
            else:
                f["compare_const"] += count * width
                f["adder"] += max(0, count - 1)
        f["ff"] += len(act.units) * out
    elif isinstance(act, ArgmaxPlan):
        _argmax_features(act.bounds, act.depth, act.register_every, f)


WHOLE_COMPARATORS = 3   # up to this many comparators of one value are counted whole


def _compared_bits(thresholds, lo, width):
    """The ``compare_const`` units of comparing one ``width``-bit value (field minimum ``lo``)
    with each of ``thresholds`` (``>=``, every one inside the field).

    Up to :data:`WHOLE_COMPARATORS` comparators count ``width`` bits each, the unit the
    coefficient is fitted in (the sweep's unrolled layers compare with 3 random thresholds:
    on xc7 they cost about that, ABC shares nothing measurable among so few). A bank of more
    shares logic: ``x >= t`` splits, below its top ``width - m`` bits, into ``x mod 2**m >=
    t mod 2**m``, the same function for every threshold with the same low bits, which ABC
    builds once. Such a bank counts the nodes of the comparators' shared decision diagram:
    at each level ``m``, the distinct non-zero ``t mod 2**m`` (offset binary). Evenly spaced
    thresholds share all their low bits: 127 thresholds 16 apart on 12 bits (the KAN bench's
    first layer) are 382 nodes, not 1 524 compared bits (xc7: 261 LUTs per output with the
    count; 1 524 bits alone would be estimated at 324).
    """
    if len(thresholds) <= WHOLE_COMPARATORS:
        return len(thresholds) * width
    offsets = [t - lo for t in thresholds]
    return sum(len({t & ((1 << m) - 1) for t in offsets} - {0}) for m in range(1, width + 1))


def _popcount_units(count, lut_inputs):
    """``adder`` units of counting ``count`` comparison bits (Yosys: full adders in a tree,
    then a short carry adder). Each full adder takes three bits of one weight and leaves two,
    so about ``count - bits`` of them make the ``bits``-bit count: on LUT families each is
    two LUTs (its sum and its carry, separate functions of three bits; a carry-chain adder
    bit, the ``adder`` unit, is one), for 2-input gates one adder bit (about five gates).
    Never below ``count - 1``, the count of up to 3 comparators the coefficient is fitted
    on (xc7 and iCE40: a 127-bit count is 207 and 246 LUTs, 240 units)."""
    if lut_inputs <= 2:
        return max(0, count - 1)
    return max(0, count - 1, 2 * (count - index_width(count + 1)))


def _search_stage(act, row, stage, lut_inputs, f, shared_leaves=False):
    """One stage of a binary search (:class:`~nomul.gateware.threshold.ThresholdBank`): the
    threshold selected by the ``stage`` count bits found so far, compared with the input.

    Stage 0 compares with one constant (``compare_const``). Later stages select among
    ``2**stage`` thresholds: a constant table of the found bits, whose bit functions are
    counted as every constant table's (``rom``/``rom_wide``: a bit that is constant or a copy
    of one found bit costs nothing; evenly spaced thresholds differ only in a few high bits).
    The comparison with the selected threshold is a carry chain (``compare``), except on
    6-input LUTs: Yosys's xc7 flow (``cmp2lcu``) splits it into LUT-size chunks, each an
    equal and a greater function (2 ``rom`` units) into a short carry chain; a compared bit
    that varies takes two chunk inputs, a constant one one. Or, with few found bits, the
    found bits themselves go into every chunk beside the input bits and the table costs
    nothing; the cheaper of the two is counted. (``compare``'s xc7 coefficient, fitted on the
    folded thresholds, is 0 LUTs, where these chunks are about 0.6 LUT per compared bit.)"""
    width = act.in_field.width
    bit = act.stages - 1 - stage
    never = act.const_bounds.hi
    options = [row[c - 1] if c <= len(row) else never
               for c in ((prefix << (bit + 1)) | (1 << bit) for prefix in range(1 << stage))]
    if stage == 0:
        f["compare_const"] += _compared_bits(options, act.in_field.bounds.lo, width)
        return
    words = tuple(t - act.in_field.bounds.lo for t in options)     # offset binary, 0..2**width
    distinct = _bit_functions(words, stage, width + 1)
    narrow, wide = _function_costs(distinct, stage, lut_inputs, shared_leaves)
    if lut_inputs < 6:
        _add_rom(f, (narrow, wide))
        f["compare"] += width
        return
    varying = sum(1 for b in range(width + 1) if len({(w >> b) & 1 for w in words}) > 1)
    chunks = 2 * -(-(width + varying) // lut_inputs)
    direct = 2 * -(-width // (lut_inputs - stage)) if stage < lut_inputs else None
    if direct is not None and direct <= narrow + wide + chunks:
        f["rom"] += direct
    else:
        _add_rom(f, (narrow, wide))
        f["rom"] += chunks


def _graph_of(plan):
    """The plan's graph (for :func:`~.graph.adder_cost`)."""
    graph = Graph(plan.leaves)
    for node in plan.nodes:
        graph.node(*node)
    return graph


_FEATURES_OF = {QuantizerPlan: _quantizer, DeserializerPlan: _deserializer,
                MacUnrolledPlan: _unrolled, UnrolledPlan: _graph_layer, FoldedPlan: _folded,
                FoldedConvPlan: _folded_conv}


def features(plan, lut_inputs, shared_leaves=False):
    """``(features, memories)`` of one stage plan (see the module docstring): a dict over
    :data:`FEATURES` (plus ``multipliers`` for a multiplier baseline) and its memories.
    ``shared_leaves``: the family's LUT trees share equal leaves (:func:`_function_costs`; a
    kind registered in :mod:`.kinds` is called with ``(plan, lut_inputs)`` alone)."""
    from .kinds import FEATURES as KIND_FEATURES

    handler = _FEATURES_OF.get(type(plan))
    if handler is not None:
        return handler(plan, lut_inputs, shared_leaves)
    handler = KIND_FEATURES.get(type(plan))
    if handler is None:
        raise TypeError(f"no cost model for a {type(plan).__name__}")
    return handler(plan, lut_inputs)


def memory_logic(memory, lut_inputs, f, shared_leaves=False):
    """Add to ``f`` what ``memory`` costs left to logic: its own decomposition when it has one
    (the folded product table's ``logic``), else one ROM per read port: each distinct bit
    function's LUTs (``rom``, ``memory_wide``) and the port's output registers (``ff``).
    ``shared_leaves``: as :func:`features`'."""
    if memory.logic is not None:
        memory.logic(f, lut_inputs, shared_leaves)
        return
    narrow, wide, registers = _cached_table_luts(
        memory.words, index_width(memory.depth), memory.width, lut_inputs, shared_leaves)
    f["rom"] += memory.read_ports * narrow
    # on LUT6 the mux tree above the leaves gets two levels free (MUXF7/F8), the rest in LUTs:
    # the deeper the ROM, the more each leaf costs (what the xc7 sweep shows)
    depth = index_width(memory.depth) - lut_inputs if lut_inputs >= 6 else 1
    f["memory_wide"] += memory.read_ports * wide * max(1, depth)
    f["ff"] += memory.read_ports * registers
