# SPDX-License-Identifier: MIT
"""Analytical cost model: LUTs, FFs, carry cells and block RAMs of a design, without synthesis.

The estimate reads a built (not elaborated) network, stage by stage, for the quantities that
drive its cost, its **features** (:func:`stage_features`):

- ``rom`` / ``rom_wide``: constant functions (product lookups, logic ROMs, per-tile
  constants). Each output bit of a constant table is a function of the address bits it really
  depends on (a constant or a copy of one input costs nothing); identical bit functions of the
  same inputs are counted once, as Yosys merges them. A function that fits one LUT counts 1 in
  ``rom``; a wider one counts ``2**(inputs - lut_inputs)`` (its leaf LUTs) in ``rom_wide``,
  whose coefficient says what ABC's decomposition really costs (``memory_wide`` for the wide
  bits of a ROM memory left to logic, the folded weight ROM; on LUT6 its leaf LUTs times the
  address bits beyond one LUT). For 2-input gates a wide function counts the nodes of its
  shared BDD instead (:func:`_bdd_nodes`);
- ``adder``: adder bits (adder trees, accumulators), from the proven bounds of every node;
- ``compare``: bits of comparisons against thresholds;
- ``step``: the input quantizer's table of raw codes (a monotone step function per sample):
  each bit function's leaf LUTs or, when fewer, its BDD nodes per LUT (:func:`_step_function`);
  its own coefficient is fitted to Yosys runs of quantizers alone
  (``bench/synth_quantizers_*.csv``);
- ``sample_compare`` / ``sample_count``: a quantizer whose table would be too big compares each
  sample against every threshold (compared bits) and counts the results (count adder bits);
  fitted on the same quantizer runs;
- ``mux``: 2:1 multiplexer bits (the folded working vector, compare-select trees);
- ``ff``: register bits (constant register bits are left out: Yosys removes them);
- ``stage``: one per component (handshake and counters).

Memories (the folded weight ROM and product tables) become block RAM or logic as Yosys's
``memory_libmap`` would choose (:func:`map_memory`: the cheapest of the family's RAM cells at
their library costs, against logic at one LUT's worth per ROM bit); their block counts are
exact arithmetic, not fitted.

Each family turns features into cells with a few coefficients (:func:`fitted`), fitted by
``bench/fit_estimator.py`` to Yosys runs of single layers (``bench/synth_sweep_*.csv``) and
checked on held-out layers (``bench/synth_check_*.csv``); the check's figures are in
``bench/RESULTS.md`` and in ``fitted()["check"]``. An estimate takes milliseconds per layer.
"""

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from amaranth.hdl import Value

from ..errors import OptionsError
from ..gateware.baseline import FoldedMacDense, MacLookup
from ..gateware.tables import code_columns, group_code_table
from ..numeric import index_width
from .toolchain import FAMILIES, logic_key

__all__ = ["FAMILIES", "FEATURES", "LUT_INPUTS", "MemorySpec", "fitted", "table_function_luts",
           "map_memory", "stage_features", "mapped_features", "estimate_stage",
           "estimate_network", "cells_from_features"]

FEATURES = ("rom", "rom_wide", "memory_wide", "select", "adder", "adder_narrow", "compare",
            "step", "sample_compare", "sample_count", "mux", "ff", "stage")
# the multiplier baseline: Yosys maps a multiplication to a DSP when both operands have at
# least 2 bits and the product at least this many (synth_ice40 -dsp; the others' DSP maps)
DSP_MIN_PRODUCT_BITS = {"ice40": 11, "ecp5": 4, "xilinx": 4}
LUT_INPUTS = {"ice40": 4, "ecp5": 4, "xilinx": 6, "gates": 2}     # gates: 2-input gates


@lru_cache(maxsize=1)
def fitted():
    """``{"coefficients": {family: {count: {feature: weight}}}, "check": {family: figures}}``
    as ``bench/fit_estimator.py`` wrote them (``estimate_coefficients.json``)."""
    text = resources.files("nomul.hw").joinpath("estimate_coefficients.json").read_text()
    return json.loads(text)


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


def table_function_luts(values, address_bits, width, lut_inputs):
    """``(narrow, wide, registers)`` of a constant table read through its ``address_bits``,
    over its distinct non-constant bit functions: ``narrow`` counts those that fit one LUT,
    ``wide`` the cost units of the others (:func:`_function_costs`)."""
    distinct = _bit_functions(values, address_bits, width)
    return (*_function_costs(distinct, address_bits, lut_inputs), len(distinct))


def _function_costs(distinct, address_bits, lut_inputs):
    """``(narrow, wide)`` of bit functions ``{truth table: support}`` over ``address_bits``:
    ``narrow`` counts those that fit one LUT; ``wide`` the others' leaf LUTs
    (``2**(support - lut_inputs)``), or for 2-input gates the nodes of their shared BDD
    (:func:`_bdd_nodes`: a random ROM's gate count grows as ``2**n / n``, not ``2**n``)."""
    narrow, wide = _function_counts(distinct.values(), lut_inputs)
    if lut_inputs == 2 and wide:
        wide = _bdd_nodes([table for table, support in distinct.items()
                           if support > lut_inputs], address_bits)
    return narrow, wide


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
def _cached_table_luts(words, address_bits, width, lut_inputs):
    return table_function_luts(words, address_bits, width, lut_inputs)


# -- memories ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MemorySpec:
    """One ROM: ``depth`` words of ``width`` bits, ``read_ports`` synchronous read ports;
    ``style`` ``"auto"`` (Yosys decides by cost), ``"block"`` or ``"logic"``."""

    name: str
    depth: int
    width: int
    read_ports: int = 1
    style: str = "auto"
    words: tuple = ()                     # contents, for the logic cost of each bit
    # its features as logic, when not those of one ROM per read port: ``logic(features,
    # lut_inputs)`` adds them
    logic: object = None


def _bits(port):
    return len(Value.cast(port.payload))


# (cell, cost, read ports per cell, ((depth, width) modes)) as in Yosys's memory libraries
BLOCK_RAMS = {
    "ice40": (("SB_RAM40_4K", 64, 1, ((2048, 2), (1024, 4), (512, 8), (256, 16))),),
    "ecp5": (("DP16KD", 128, 2, ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18))),
             ("PDPW16KD", 128, 1, ((512, 36),))),
    "xilinx": (("RAMB18E1", 129, 2, ((16384, 1), (8192, 2), (4096, 4), (2048, 9),
                                     (1024, 18))),
               ("RAMB18E1", 129, 1, ((512, 36),)),
               ("RAMB36E1", 257, 2, ((32768, 1), (16384, 2), (8192, 4), (4096, 9),
                                     (2048, 18), (1024, 36))),
               ("RAMB36E1", 257, 1, ((512, 72),))),
    "gates": (),
}
# what memory_libmap charges per ROM bit left to logic: one LUT's worth (16 bits in a LUT4, 64
# in a LUT6; the Xilinx figure is what our xc7 runs show). ROMs never go to LUT RAM.
LOGIC_COST_PER_ROM_BIT = {"ice40": 1 / 16, "ecp5": 1 / 16, "xilinx": 1 / 64, "gates": 1 / 16}


def _block_cost(memory, cell):
    name, cost, ports, modes = cell
    copies = math.ceil(memory.read_ports / ports)
    # a mode d x w also serves as (d*j) x (w/j) with a read mux (Yosys's wide-port emulation)
    blocks = min(math.ceil(memory.depth / (d * j)) * math.ceil(memory.width * j / w)
                 for d, w in modes for j in (1 << e for e in range(w.bit_length()))
                 if w % j == 0)
    return blocks * copies, blocks * copies * cost


def map_memory(memory, family):
    """``(kind, cells)``: ``("block", n)`` block RAMs or ``("logic", 0)``, the cheaper as
    Yosys's ``memory_libmap`` rates them (``style`` forces block or logic; the gate-level
    family has no block RAM, so everything is logic there, as Yosys's generic flow does)."""
    blocks = [_block_cost(memory, cell) for cell in BLOCK_RAMS[family]]
    best_block = min(blocks, key=lambda b: b[1]) if blocks else None
    if memory.style == "logic" or best_block is None:
        return "logic", 0
    if memory.style == "block":
        return "block", best_block[0]
    logic_cost = memory.depth * memory.width * memory.read_ports \
        * LOGIC_COST_PER_ROM_BIT[family]
    return ("block", best_block[0]) if best_block[1] < logic_cost else ("logic", 0)


# -- features per component ---------------------------------------------------------------

def _new():
    return dict.fromkeys(FEATURES, 0)


def _quantizer(stage, lut_inputs):
    f = _new()
    bits, registers = stage.raw_shape.width, stage.index_shape.width
    if stage.style == "identity":
        f["adder"] += stage.elements * registers
    elif stage.style == "lookup":          # one step function of the raw bits per sample
        units, registers = _step_function(tuple(stage.lookup_table()), bits, registers,
                                          lut_inputs)
        f["step"] += stage.elements * units
    else:                                  # comparators against constants, then a count
        compared = len(stage.compared_thresholds)
        f["sample_compare"] += stage.elements * compared * bits
        f["sample_count"] += stage.elements * max(0, compared - 1)
    f["ff"] += stage.elements * registers + 1
    return f, []


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


def _deserializer(stage, lut_inputs):
    f = _new()
    bits = _bits(stage.o)
    f["ff"] += bits + index_width(stage.ii) + 1
    f["mux"] += bits if stage.ii > 1 else 0
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


def _mac_lookup(stage, f, lut_inputs):
    lookup = stage.lookup
    w_bits = max(abs(w) for w in lookup.weights).bit_length() + 1
    for _, k in lookup.pairs:
        _multiplier(f, lookup.index_width, lookup.weights[k], w_bits)
    _unrolled_rest(stage, f, lut_inputs)
    return f, []


def _shared_trees(stage, f, lut_inputs):
    """The adder trees of an unrolled layer (see :func:`_shared_tree`); an adder whose inputs
    depend on few enough input bits to fit one LUT counts as ``adder_narrow``."""
    code_bits = stage.lookup._group * stage.lookup.index_width
    pairs = stage.lookup.pairs
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
    if lut_inputs == 2 and not isinstance(stage.lookup, MacLookup):
        as_function = _small_sums(stage.lookup, code_bits, support)
    seen = set()
    for sources, tree in zip(stage._sources, stage.trees, strict=True):
        leaves = [("term", p) for p in sources] + [ZERO] * (len(tree.term_bounds) - len(sources))
        _shared_tree(leaves, tree.level_bounds,
                     lambda level, t=tree: level == t.depth or (
                         t.register_every and level % t.register_every == 0),
                     seen, f, bias=tree.bias, bias_level=tree.bias_level,
                     narrow=lambda node: len(support(node)) * code_bits <= lut_inputs,
                     as_function=as_function)
    f["ff"] += 1 + len(stage.trees[0].term_bounds).bit_length()   # valid pipeline


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
    columns = np.array(code_columns(lookup._table, lookup._in_levels, lookup._group),
                       dtype=np.int64)
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


def _unrolled(stage, lut_inputs):
    f = _new()
    lookup = stage.lookup
    if isinstance(lookup, MacLookup):                 # the multiplier baseline
        return _mac_lookup(stage, f, lut_inputs)
    address_bits = lookup._group * lookup.index_width
    width = lookup.term_shape.width
    column_values = [_bit_functions(column, address_bits, width)
                     for column in code_columns(lookup._table, lookup._in_levels, lookup._group)]
    by_group = {}
    for g, k in lookup.pairs:
        by_group.setdefault(g, set()).add(k)
    for used in by_group.values():
        distinct = {}
        for k in used:
            distinct.update(column_values[k])
        _add_rom(f, _function_costs(distinct, address_bits, lut_inputs))
        f["ff"] += len(distinct)
    _unrolled_rest(stage, f, lut_inputs)
    return f, []


def _unrolled_rest(stage, f, lut_inputs):
    """An unrolled layer after its lookups: adder trees and the activation."""
    _shared_trees(stage, f, lut_inputs)
    if stage.kind == "thresholds":
        bank = stage.activation
        _thresholds(bank.thresholds, bank.in_shape.width, bank.method,
                    bank.out_shape.width, f)
    elif stage.kind == "argmax":
        am = stage.activation
        _argmax_features(am.bounds, am.depth, am.register_every, f)
    f["stage"] += 1


def _folded(stage, lut_inputs):
    f = _new()
    vector = _bits(stage.i)
    f["ff"] += 2 * vector + 2 * index_width(stage.ii) + 8
    # the weight ROM address register; the tile and the tags waiting a cycle for its word
    f["ff"] += index_width(stage.ii) + stage.simd * stage._code_bits + index_width(stage.nf) + 4
    f["mux"] += vector
    ports = _lane_sequences(stage)
    memories = [MemorySpec("weight ROM", stage.weight_depth, stage.weight_width, 1, "auto",
                           tuple(stage._weight_words()))]
    if isinstance(stage, FoldedMacDense):             # the multiplier baseline
        for _ in range(stage.pe * stage.simd):
            _multiplier(f, stage._code_bits, None, stage.weight_shape.width)
    else:
        distinct_ports = len({(s, ports[p][s]) for p in range(stage.pe)
                              for s in range(stage.simd)})
        memories.append(MemorySpec(
            "product table", stage.table_depth, stage.term_shape.width, distinct_ports,
            stage.table_style,
            logic=lambda f, lut_inputs: _table_logic(stage, ports, lut_inputs, f)))
    seen = set()
    for p in range(stage.pe):
        _shared_tree([("port", s, ports[p][s]) for s in range(stage.simd)],
                     stage._tree_bounds[p],
                     lambda level: stage.register_every and level % stage.register_every == 0,
                     seen, f)
        acc = stage.acc_shapes[p].width
        f["adder"] += acc
        f["mux"] += acc
        f["ff"] += acc
        bias = [stage._bias[n * stage.pe + p] for n in range(stage.nf)]
        _add_rom(f, _per_tile_luts(bias, stage.nf, lut_inputs))
    if stage.kind == "argmax":
        bounds = stage._final_bounds
        _argmax_features(bounds, stage._max_depth, stage.register_every, f)
        f["compare"] += max(b.width for b in bounds)
        f["ff"] += max(b.width for b in bounds) + index_width(len(stage.sum_bounds))
    elif stage.kind == "thresholds":
        rows = stage._thresholds
        t = len(rows[0])
        for p in range(stage.pe):
            final = stage._final_bounds[p]
            for j in range(t):
                row = [min(max(rows[n * stage.pe + p][j], final.lo), final.hi + 1)
                       for n in range(stage.nf)]
                _add_rom(f, _per_tile_luts(row, stage.nf, lut_inputs))
            f["compare"] += t * stage.acc_shapes[p].width
            f["adder"] += max(0, t - 1)
        f["ff"] += len(rows) * index_width(t + 1)
    else:
        f["ff"] += len(stage.sum_bounds) * stage.acc_shape.width
    f["ff"] += _bits(stage.o) + 1
    f["stage"] += 1
    return f, memories


def _lane_sequences(stage):
    """``[p][s]``: the codewords lane ``(p, s)`` reads, one per cycle of a vector. Two lanes of
    one input slot with the same sequence read the same products: Yosys merges them."""
    return [[tuple(stage._weight_index[nf * stage.pe + p][sf * stage.simd + s]
                   for nf in range(stage.nf) for sf in range(stage.sf))
             for s in range(stage.simd)] for p in range(stage.pe)]


def _table_logic(stage, lanes, lut_inputs, f):
    """The product table as logic: ``pe*simd`` read ports, port ``(p, s)`` addressed by the
    code of input slot ``s`` and the codeword its weight field holds (``lanes``, as
    :func:`_lane_sequences` gives them). Counted as the cheapest
    of three decompositions: per codeword, a function of the code bits (shared by the ports of
    one slot) and a codeword-select mux per port; per code, a function of the codeword bits and
    a code-select mux per port; or per port, one function of all its address bits. Ports of
    one slot that always hold the same codeword sequence are one port (Yosys merges them).
    Adds ``rom``/``rom_wide`` (leaf functions), ``select`` (mux inputs beyond the first, per
    bit) and ``ff`` (port registers)."""
    code_bits, width = stage._code_bits, stage.term_shape.width
    table = stage._table_words()
    ports = {(s, lanes[p][s]): sorted(set(lanes[p][s]))
             for p in range(stage.pe) for s in range(stage.simd)}
    codes = len(group_code_table(stage._table, stage._in_levels, stage._group))
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
        narrow, wide = _function_costs(distinct, code_bits, lut_inputs)
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


def _per_tile_luts(values, tiles, lut_inputs):
    """``(narrow, wide)`` of a constant chosen by the tile counter: one function of
    ``index_width(tiles)`` bits per non-constant bit."""
    if len(set(values)) == 1:
        return 0, 0
    bits = max(index_width(tiles), 1)
    width = max(abs(v) for v in values).bit_length() + 1
    return _cached_table_luts(tuple(values), bits, width, lut_inputs)[:2]


def _add_rom(features, counts):
    features["rom"] += counts[0]
    features["rom_wide"] += counts[1]


def _folded_conv(stage, lut_inputs):
    f, memories = _folded(stage.engine, lut_inputs)
    streamer, collector = stage.streamer, stage.collector
    f["ff"] += _bits(streamer.i) + _bits(collector.o)
    f["mux"] += _bits(streamer.o) * 2
    f["stage"] += 2
    return f, memories


def _pool(stage, lut_inputs):
    f = _new()
    outputs = math.prod(stage.out_shape)
    taps = math.prod(stage.kernel)
    f["compare"] += outputs * (taps - 1) * stage.index_width
    f["mux"] += outputs * (taps - 1) * stage.index_width
    f["ff"] += outputs * stage.index_width + 1
    return f, []


def _stage_handlers():
    from ..gateware.conv import FoldedConv
    from ..gateware.folded import FoldedDense
    from ..gateware.layers import UnrolledLayer
    from ..gateware.pool import MaxPool
    from ..gateware.quantizer import InputQuantizer
    from ..gateware.serdes import Deserializer
    return ((InputQuantizer, _quantizer), (Deserializer, _deserializer),
            (UnrolledLayer, _unrolled), (FoldedDense, _folded), (FoldedConv, _folded_conv),
            (MaxPool, _pool))


def stage_features(stage, family):
    """``(features, memories)`` of one network stage (see the module docstring)."""
    for kind, handler in _stage_handlers():
        if isinstance(stage, kind):
            return handler(stage, LUT_INPUTS[family])
    raise TypeError(f"no cost model for {type(stage).__name__}")


# -- features -> cells ---------------------------------------------------------------------

def cells_from_features(features, family, coefficients=None):
    """``{luts (gates for the gates family), ffs, carry}`` from a feature dict."""
    c = (coefficients or fitted()["coefficients"])[family]
    logic = sum(c["luts"].get(name, 0.0) * features[name] for name in FEATURES)
    result = {logic_key(family): logic,
              "ffs": sum(c["ffs"].get(name, 0.0) * features[name] for name in FEATURES),
              "carry": sum(c["carry"].get(name, 0.0) * features[name] for name in FEATURES)}
    return {k: int(round(v)) for k, v in result.items()}


def mapped_features(stage, family):
    """``(features, memories)``: :func:`stage_features` with every memory mapped
    (:func:`map_memory`); a memory left to logic adds its LUTs and output registers to the
    features, a mapped one is listed with its cells."""
    if family not in FAMILIES:
        raise OptionsError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    features, memories = stage_features(stage, family)
    mapped = []
    for memory in memories:
        kind, cells = map_memory(memory, family)
        mapped.append({"memory": memory.name, "depth": memory.depth, "width": memory.width,
                       "read_ports": memory.read_ports, "mapped_to": kind, "cells": cells})
        if kind == "logic" and memory.logic is not None:
            memory.logic(features, LUT_INPUTS[family])
        elif kind == "logic":
            narrow, wide, registers = _cached_table_luts(
                memory.words, index_width(memory.depth), memory.width, LUT_INPUTS[family])
            features["rom"] += memory.read_ports * narrow
            # on LUT6 the mux tree above the leaves gets two levels free (MUXF7/F8), the rest
            # in LUTs: the deeper the ROM, the more each leaf costs (what the xc7 sweep shows)
            depth = index_width(memory.depth) - LUT_INPUTS[family] \
                if LUT_INPUTS[family] >= 6 else 1
            features["memory_wide"] += memory.read_ports * wide * max(1, depth)
            features["ff"] += memory.read_ports * registers
    return features, mapped


def estimate_stage(stage, family):
    """One stage's estimate: ``luts`` (``gates``), ``ffs``, ``carry``, ``brams``, ``dsps``,
    ``multipliers`` (0 for a table design; the baseline's multiplications, in DSPs where
    :data:`DSP_MIN_PRODUCT_BITS` says Yosys puts them, otherwise as adders: uncalibrated),
    the memories' mapping and the features."""
    features, mapped = mapped_features(stage, family)
    report = {"luts": 0, "ffs": 0, "carry": 0, "brams": 0, "dsps": 0, "gates": 0}
    report["brams"] = sum(m["cells"] for m in mapped if m["mapped_to"] == "block")
    multipliers = features.pop("multipliers", [])
    report["multipliers"] = len(multipliers)
    for a_bits, b_bits, weight in multipliers:
        if min(a_bits, b_bits) >= 2 and a_bits + b_bits >= DSP_MIN_PRODUCT_BITS.get(family, 99):
            report["dsps"] += 1
        elif weight is not None:                   # shift-and-add of the constant
            features["adder"] += max(0, bin(abs(weight)).count("1") - 1) * (a_bits + b_bits)
        else:                                      # an array multiplier in logic
            features["adder"] += a_bits * b_bits
    report.update(cells_from_features(features, family))
    report["memories"] = mapped
    report["features"] = features
    return report


def estimate_network(top, family):
    """Per stage and total estimates for a :class:`~nomul.gateware.network.NetworkTop`."""
    stages = {name: estimate_stage(stage, family) for name, stage in top.named_stages}
    total = {key: sum(s[key] for s in stages.values())
             for key in ("luts", "ffs", "carry", "brams", "dsps", "gates", "multipliers")}
    return {"family": family, "stages": stages, "total": total}
