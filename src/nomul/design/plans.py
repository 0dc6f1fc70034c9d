# SPDX-License-Identifier: MIT
"""Frozen plans: everything one stage's hardware and its cost depend on, computed once.

A plan is plain data (ints, tuples, :class:`~nomul.numeric.Bounds`, :mod:`.ports` fields): its
tables and ROM words in hardware layout, the proven bounds of every node, its tree shapes and
memories, ``latency`` and ``ii``. :mod:`nomul.gateware` builds one component from each plan;
:mod:`nomul.hw.estimate` costs plans (:mod:`.cost`) and never touches a component; the build
manifest is :meth:`nomul.design.Design.describe`. Nothing here imports Amaranth.

The stage plans: :class:`QuantizerPlan`, :class:`DeserializerPlan`, :class:`MacUnrolledPlan`
(with its :class:`LookupPlan`, per-output :class:`~.trees.TreePlan` and activation),
:class:`FoldedPlan` (PE x SIMD engine), :class:`FoldedConvPlan` (:class:`WindowPlan`, a
:class:`FoldedPlan`, :class:`CollectorPlan`); the weightless kinds' plans are in
:mod:`.kinds` (:class:`~.kinds.maxpool.PoolPlan`). The multiplier baseline
uses the same plans with ``weights`` set (products ``a * w_k`` instead of table lookups).
"""

import math
from dataclasses import dataclass, field

from ..numeric import Bounds, index_width, sum_bounds
from .activation import Argmax, Raw, Thresholds
from .params import as_field, as_int, as_ints, as_rows, as_window, fill
from .ports import Field, Vector, field_of
from .tables import code_columns, products
from .trees import ArgmaxPlan, ThresholdPlan, TreePlan, tree_levels, union

__all__ = ["LOOKUP_MAX_TABLE_BITS", "BLOCK_THRESHOLD", "WEIGHT_LOGIC_BITS", "WEIGHT_CHUNK",
           "WEIGHT_PIECE", "ACC_SPLIT_BITS", "acc_low_bits", "table_style",
           "Memory", "QuantizerPlan", "DeserializerPlan", "LookupPlan", "MacUnrolledPlan",
           "FoldedPlan", "WindowPlan", "CollectorPlan", "FoldedConvPlan"]

# thresholds are read from a constant table of the 2**bits raw codes (a logic function ABC maps
# freely) instead of one comparator per threshold (which iCE40 puts on carry chains) when that
# table has at most this many bits: on 64 samples of 5-8 bits, 62-65 % fewer iCE40 logic cells
# after place and route and fewer or equal LUT6, ECP5 LUTs and gates (bench/RESULTS.md). Up to
# 1024 bits Yosys keeps the table in logic on every family; above it, memory_libmap rates an
# iCE40 block RAM cheaper and would spend one per sample.
LOOKUP_MAX_TABLE_BITS = 1024
BLOCK_THRESHOLD = 512      # folded ``table_style="auto"``: block RAM from this many entries up
# a folded weight ROM of fewer bits than this, deeper than one chunk, is built in logic in
# three registered steps (16-word pieces, the 64-word chunk, then the chunk): below it
# synthesis keeps a ROM in logic on every family, and its one-step decoder was a folded
# layer's longest path on 4-input LUTs, as was a 64-word chunk read in one step (a 6-input
# function: three LUT4 levels)
WEIGHT_LOGIC_BITS = 1024
WEIGHT_CHUNK = 64
WEIGHT_PIECE = 16
# a folded accumulator wider than this adds in two cycles (the low part, then the high part
# with the low part's registered carry): its input select and a 20-bit carry chain were a
# folded layer's longest path on the iCE40 (15.2 ns)
ACC_SPLIT_BITS = 12


def acc_low_bits(width):
    """The low part of a split accumulator of ``width`` bits: 4 bits short of half, as its
    carry out costs two routed hops more than the high part's end (iCE40 UP5K, measured on a
    22-bit accumulator: an 11 + 11 split put the low part at 14.7 ns, 9 + 13 at 14.1 ns)."""
    return max(1, (width - 8) // 2)


def table_style(style, entries):
    """A folded product table's style: ``"logic"`` or ``"block"``; ``"auto"`` chooses block RAM
    from :data:`BLOCK_THRESHOLD` table entries up."""
    style = str(style)
    if style not in ("auto", "logic", "block"):
        raise ValueError(f"unknown table_style {style!r}")
    if style == "auto":
        return "block" if entries >= BLOCK_THRESHOLD else "logic"
    return style


@dataclass(frozen=True)
class Memory:
    """One ROM: ``depth`` words of ``width`` bits (``words``, two's complement), read through
    ``read_ports`` synchronous ports; ``style`` ``"auto"`` (synthesis decides by cost),
    ``"block"`` or ``"logic"``. ``logic(features, lut_inputs, shared_leaves)``, when given, adds
    what it costs left to logic when that is not one ROM per read port
    (:func:`.cost.memory_logic`)."""

    name: str
    depth: int
    width: int
    read_ports: int = 1
    style: str = "auto"
    words: tuple = ()
    logic: object = field(default=None, compare=False, repr=False)


# -- the input --------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuantizerPlan:
    """Raw integer samples to input activation indices, one whole vector per transfer.

    ``identity``: ``index = raw - raw_min``; thresholds: ``index`` = the number of thresholds
    ``t`` with ``raw >= t``, read from a constant table of every raw code when that table has at
    most :data:`LOOKUP_MAX_TABLE_BITS` bits (``style == "lookup"``), otherwise counted from
    parallel comparisons (``"compare"``). ``thresholds`` is one ascending tuple shared by every
    sample element, or one tuple per element (``per_feature``: sensor channels of different
    ranges and units quantized onto the same levels). Matches
    :func:`nomul.models.reference.quantize_input`.
    Latency 1 (``registered``), or 0: combinational, in front of a stage whose input is a
    register of its own (a folded layer's input buffer), so its indices are not registered
    twice and no stall enable fans out to them; ii 1.
    """

    elements: int
    raw_min: int
    raw_max: int
    thresholds: tuple | None = None
    registered: bool = True

    ii = 1
    name = "quantizer"

    def __post_init__(self):
        elements = as_int(self.elements, "elements", minimum=1)
        raw_min, raw_max = as_int(self.raw_min, "raw_min"), as_int(self.raw_max, "raw_max")
        if raw_min > raw_max:
            raise ValueError(f"raw_min {raw_min} is above raw_max {raw_max}")
        thresholds = None
        if self.thresholds is not None:
            thresholds = _checked_thresholds(self.thresholds, elements)
        raw = field_of(Bounds(raw_min, raw_max))
        levels = raw_max - raw_min + 1 if thresholds is None else \
            len(thresholds[0] if _nested(thresholds) else thresholds) + 1
        index = Field(index_width(levels))
        style = "identity" if thresholds is None else "lookup" \
            if (1 << raw.width) * index.width <= LOOKUP_MAX_TABLE_BITS else "compare"
        fill(self, elements=elements, raw_min=raw_min, raw_max=raw_max, thresholds=thresholds,
             raw=raw, index=index, levels=levels, style=style,
             registered=bool(self.registered), latency=int(bool(self.registered)))

    @property
    def per_feature(self):
        """True when every sample element has thresholds of its own."""
        return self.thresholds is not None and _nested(self.thresholds)

    def element_thresholds(self, n):
        """The thresholds of sample element ``n``."""
        return self.thresholds[n] if self.per_feature else self.thresholds

    @property
    def in_port(self):
        return Vector(self.raw, self.elements)

    @property
    def out_port(self):
        return Vector(self.index, self.elements)

    def compared_thresholds(self, n=0):
        """The thresholds of element ``n`` a sample can fall on either side of
        (``raw_min < t <= raw_max``): those at or below ``raw_min`` are always met, those
        above ``raw_max`` never."""
        return tuple(t for t in self.element_thresholds(n) if self.raw_min < t <= self.raw_max)

    def always_met(self, n=0):
        """How many thresholds of element ``n`` every sample meets (``t <= raw_min``)."""
        return sum(1 for t in self.element_thresholds(n) if t <= self.raw_min)

    def lookup_table(self, n=0):
        """The index of every raw code ``0 .. 2**width - 1`` for element ``n`` (the bit
        pattern of a sample; a code outside ``raw_min..raw_max`` never arrives and reads its
        nearest end's index)."""
        width, half = self.raw.width, 1 << (self.raw.width - 1)
        thresholds, table = self.element_thresholds(n), []
        for code in range(1 << width):
            raw = code - 2 * half if self.raw.signed and code >= half else code
            raw = min(max(raw, self.raw_min), self.raw_max)
            table.append(sum(1 for t in thresholds if raw >= t))
        return table

    def describe(self):
        return {"stage": self.name, "style": self.style, "latency": self.latency,
                "ii": self.ii}


def _checked_thresholds(values, elements):
    """Shared ``(T,)`` or per-element ``(elements, T)`` ascending thresholds as tuples."""
    if _nested(values):
        rows = as_rows(values, "thresholds")
        if len(rows) != elements:
            raise ValueError(f"per-element thresholds need {elements} rows, not {len(rows)}")
        return tuple(_checked_thresholds(row, elements) for row in rows)
    thresholds = as_ints(values, "thresholds")
    if not thresholds:
        raise ValueError("thresholds must not be empty (use None for identity)")
    if list(thresholds) != sorted(thresholds):
        raise ValueError(f"thresholds must be ascending, not {thresholds!r}")
    return thresholds


def _nested(values):
    """True for a sequence of sequences (per-element thresholds)."""
    return len(values) > 0 and hasattr(values[0], "__iter__")


@dataclass(frozen=True)
class DeserializerPlan:
    """Collects ``elements`` values arriving ``lanes`` per transfer into one vector: ``ii`` =
    ``ceil(elements / lanes)`` transfers, latency 1 from the last one."""

    elements: int
    lanes: int
    element: Field

    latency = 1
    name = "deserializer"

    def __post_init__(self):
        elements = as_int(self.elements, "elements", minimum=1)
        lanes = as_int(self.lanes, "lanes", minimum=1)
        as_field(self.element, "element")
        if lanes > elements:
            raise ValueError(f"need 1 <= lanes <= elements, not lanes={lanes}, "
                             f"elements={elements}")
        fill(self, elements=elements, lanes=lanes, ii=math.ceil(elements / lanes))

    @property
    def in_port(self):
        return Vector(self.element, self.lanes)

    @property
    def out_port(self):
        return Vector(self.element, self.elements)


# -- unrolled layers --------------------------------------------------------------------------

@dataclass(frozen=True)
class LookupPlan:
    """Every distinct (group, codeword) product of an unrolled layer, one term per pair.

    ``groups``: input groups as tuples of element positions (input 0 of the group first);
    ``pairs``: ``(group_number, codeword)``; the term of pair ``(g, k)`` is
    ``table[address of groups[g]][k]``, a constant function of the group's index bits.
    With ``weights`` (the multiplier baseline) the table is ``a * weights[k]`` and each term a
    registered multiplication of a single input's index by a constant. Latency 1, ii 1.
    """

    table: tuple
    groups: tuple
    pairs: tuple
    in_levels: int
    n_inputs: int
    weights: tuple | None = None

    latency = 1
    ii = 1

    def __post_init__(self):
        in_levels = as_int(self.in_levels, "in_levels", minimum=2)
        n_inputs = as_int(self.n_inputs, "n_inputs", minimum=1)
        weights = None if self.weights is None else as_ints(self.weights, "weights")
        table = products(weights, in_levels) if weights is not None else \
            as_rows(self.table, "table")
        groups = tuple(as_ints(g, f"groups[{n}]", minimum=0) for n, g in enumerate(self.groups))
        if not groups:
            raise ValueError("need at least one input group")
        group = len(groups[0])
        for members in groups:
            if len(members) != group or not all(e < n_inputs for e in members):
                raise ValueError(f"group {members} is not {group} positions below {n_inputs}")
        if weights is not None and group != 1:
            raise ValueError(f"multiplications need single-input groups, not {group}")
        if len(table) != in_levels ** group or not table or not table[0]:
            raise ValueError(f"table has {len(table)} rows, expected in_levels**group = "
                             f"{in_levels ** group}")
        pairs = tuple(as_ints(p, "pair", minimum=0, length=2) for p in self.pairs)
        if not pairs:
            raise ValueError("need at least one (group, codeword) pair")
        for g, k in pairs:
            if g >= len(groups) or k >= len(table[0]):
                raise ValueError(f"pair {(g, k)} outside {len(groups)} groups x "
                                 f"{len(table[0])} codewords")
        columns = [Bounds.of([row[k] for row in table]) for k in range(len(table[0]))]
        fill(self, table=table, groups=groups, pairs=pairs, in_levels=in_levels,
             n_inputs=n_inputs, weights=weights, group=group, index=Field(index_width(in_levels)),
             term_bounds=tuple(columns[k] for _, k in pairs),
             term=field_of(Bounds.of([v for row in table for v in row]).union(Bounds(0, 0))))

    @property
    def multiplies(self):
        return self.weights is not None

    @property
    def code_bits(self):
        """Address bits of one group: ``group`` index fields."""
        return self.group * self.index.width

    def columns(self):
        """``columns[k][code]``: the table in hardware layout (:func:`code_columns`)."""
        return code_columns(self.table, self.in_levels, self.group)

    @property
    def in_port(self):
        return Vector(self.index, self.n_inputs)

    @property
    def out_port(self):
        return Vector(self.term, len(self.pairs))


def _activation_plan(activation, sum_bounds_, acc, *, register_every, threshold_method):
    """The activation stage of an unrolled layer: a :class:`ThresholdPlan` over the
    accumulator field, an :class:`ArgmaxPlan` over the outputs' bounds, or None (raw)."""
    if isinstance(activation, Thresholds):
        return ThresholdPlan(activation.rows, acc, str(threshold_method))
    if isinstance(activation, Argmax):
        return ArgmaxPlan(sum_bounds_, register_every)
    return None


class _WeightedStage:
    """What the plans of weighted layers share: the activation's kind and the manifest entry
    (``describe_as``, the fixed fields, plus the accumulator width, latency and ii)."""

    @property
    def kind(self):
        return self.activation.kind

    def describe(self):
        return {**dict(self.describe_as), "accumulator_bits": self.acc.width,
                "latency": self.latency, "ii": self.ii}


@dataclass(frozen=True)
class MacUnrolledPlan(_WeightedStage):
    """All outputs of a layer in parallel, one input tensor per clock (ii 1).

    ``lookup`` forms every distinct (group, codeword) product once; output ``o`` sums the
    terms ``sources[o]`` (positions in ``lookup.pairs``) and its bias in ``trees[o]``; the
    trees run in lockstep (all have as many terms, short ones padded with zeros, so all have
    the same depth); the activation turns the sums into indices, a class or passes them on.
    Matches :func:`nomul.models.reference.weighted` followed by the layer's activation.
    ``latency`` = lookup (1) + tree + activation.

    ``table``, ``groups``, ``in_levels``, ``n_inputs``, ``weights``: as :class:`LookupPlan`'s;
    ``outputs``: per output its ``(group_number, codeword)`` terms (padded conv taps left
    out); ``describe_as``: the manifest entry's fixed fields (position, kind, options).
    """

    table: tuple
    groups: tuple
    outputs: tuple
    bias: tuple
    activation: object
    in_levels: int
    n_inputs: int
    register_every: int = 1
    threshold_method: str = "parallel"
    weights: tuple | None = None
    describe_as: tuple = ()

    ii = 1

    def __post_init__(self):
        outputs = tuple(tuple(as_ints(t, "term", minimum=0, length=2) for t in terms)
                        for terms in self.outputs)
        bias = as_ints(self.bias, "bias")
        if len(bias) != len(outputs) or not outputs:
            raise ValueError(f"{len(bias)} biases for {len(outputs)} outputs")
        if not isinstance(self.activation, (Thresholds, Argmax, Raw)):
            raise TypeError(f"activation must be Thresholds, Argmax or Raw, not "
                            f"{self.activation!r}")
        pairs = tuple(sorted({pair for terms in outputs for pair in terms})) or ((0, 0),)
        lookup = LookupPlan(self.table, self.groups, pairs, self.in_levels, self.n_inputs,
                            self.weights)
        position = {pair: n for n, pair in enumerate(pairs)}
        sources = tuple(tuple(position[pair] for pair in terms) for terms in outputs)
        width = max(1, max(len(s) for s in sources))
        trees = tuple(TreePlan(tuple(lookup.term_bounds[p] for p in s)
                               + (Bounds(0, 0),) * (width - len(s)), b, self.register_every)
                      for s, b in zip(sources, bias, strict=True))
        sums = tuple(tree.out_bounds for tree in trees)
        acc = field_of(union(sums + (Bounds(0, 0),)))
        act = _activation_plan(self.activation, sums, acc, register_every=self.register_every,
                               threshold_method=self.threshold_method)
        fill(self, table=lookup.table, groups=lookup.groups, in_levels=lookup.in_levels,
             n_inputs=lookup.n_inputs, weights=lookup.weights, outputs=outputs, bias=bias,
             lookup=lookup, sources=sources, trees=trees, sum_bounds=sums, acc=acc, act=act,
             latency=lookup.latency + trees[0].latency + (act.latency if act else 0))

    @property
    def in_port(self):
        return self.lookup.in_port

    @property
    def out_port(self):
        if isinstance(self.act, ThresholdPlan):
            return Vector(self.act.out, len(self.outputs))
        if isinstance(self.act, ArgmaxPlan):
            return self.act.out
        return Vector(self.acc, len(self.outputs))


# -- folded layers ----------------------------------------------------------------------------

def _registers(depth, register_every):
    """Pipeline registers inside a folded engine's tree of ``depth`` levels (the stage after
    the root is the accumulator, always registered)."""
    return depth // register_every if register_every else 0


def _weight_chunks(style, depth, width):
    """:attr:`FoldedPlan.weight_chunks` of a weight ROM of ``depth`` words of ``width`` bits."""
    if depth <= WEIGHT_CHUNK or style == "block" or \
            (style == "auto" and depth * width >= WEIGHT_LOGIC_BITS):
        return 0
    return -(-depth // WEIGHT_CHUNK)


def _weight_in_block_ram(style, depth, width):
    """:attr:`FoldedPlan.weight_in_block_ram` of such a ROM."""
    return style == "block" or (depth > WEIGHT_CHUNK and not _weight_chunks(style, depth, width))


@dataclass(frozen=True)
class FoldedPlan(_WeightedStage):
    """A dense layer folded onto ``pe`` x ``simd`` product lookups per cycle (see
    :mod:`nomul.gateware.folded` for the pipeline).

    ``M`` outputs over ``G`` input groups (``N = G * group`` input indices); ``nf = M / pe``
    output tiles, ``sf = G / simd`` input tiles; ``ii = nf * sf``; ``latency = nf*sf + Lt + 7``
    (1 less with ``input_buffer="single"`` and ``nf * sf >= 2``: no next-vector buffer in
    front of the working vector; + 2 with thresholds, 3 with more than one: compared in
    halves, joined, counted), + 1 when the accumulators add in two cycles (``acc_split``: one
    wider than :data:`ACC_SPLIT_BITS`), + 1 with the weight ROM in block RAM
    (:attr:`weight_in_block_ram`: its word's fabric register; in logic chunks,
    :attr:`weight_chunks`, the chunk's step), + ``La`` for argmax and 1 more
    if ``sf > 1``; 1 less for the integer multiplier baseline), ``Lt``/``La`` the registers
    inside the SIMD adder trees and the PE argmax tree. The weight ROM holds ``nf * sf`` words
    of ``pe * simd`` fields (codeword indices, or with ``weights`` the integer weights
    themselves unless ``codebook_rom``: then indices again and a ``K``-entry codebook ROM of
    the weights); the product table is one
    memory of ``K << code_bits`` words addressed by ``Cat(group code, codeword)`` with
    ``pe * simd`` read ports. Matches :func:`nomul.models.reference.weighted` and the
    activation exactly.
    """

    table: tuple
    weight_index: tuple
    bias: tuple
    activation: object
    in_levels: int
    group: int = 1
    pe: int = 1
    simd: int = 1
    table_style: str = "auto"
    register_every: int = 1
    weights: tuple | None = None
    codebook_rom: bool = False
    describe_as: tuple = ()
    weight_style: str = "auto"
    input_buffer: str = "double"

    def __post_init__(self):
        in_levels = as_int(self.in_levels, "in_levels", minimum=2)
        group = as_int(self.group, "group", minimum=1)
        pe, simd = as_int(self.pe, "pe", minimum=1), as_int(self.simd, "simd", minimum=1)
        if self.codebook_rom and self.weights is None:
            raise ValueError("codebook_rom needs the weights (a multiplier baseline)")
        register_every = as_int(self.register_every, "register_every", minimum=0)
        weights = None if self.weights is None else as_ints(self.weights, "weights")
        if weights is not None:
            group, table = 1, products(weights, in_levels)
        else:
            table = as_rows(self.table, "table")
        if len(table) != in_levels ** group or not table[0]:
            raise ValueError(f"table has {len(table)} rows, expected in_levels**group = "
                             f"{in_levels ** group}")
        codewords = len(table[0])
        index = as_rows(self.weight_index, "weight_index")
        if not index or not index[0]:
            raise ValueError("weight_index must be a non-empty M x G matrix")
        outputs, groups = len(index), len(index[0])
        if any(not 0 <= k < codewords for row in index for k in row):
            raise ValueError(f"weight_index holds a codeword outside the {codewords}")
        bias = as_ints(self.bias, "bias")
        if len(bias) != outputs:
            raise ValueError(f"{len(bias)} biases for {outputs} outputs")
        if groups % simd:
            raise ValueError(f"simd {simd} does not divide the {groups} input groups")
        if outputs % pe:
            raise ValueError(f"pe {pe} does not divide the {outputs} outputs")
        if isinstance(self.activation, Thresholds) and len(self.activation.rows) != outputs:
            raise ValueError(f"{len(self.activation.rows)} threshold rows for {outputs} "
                             f"outputs")
        weight_style = str(self.weight_style)
        if weight_style not in ("auto", "logic", "block"):
            raise ValueError(f"unknown weight_style {weight_style!r}")
        if str(self.input_buffer) not in ("double", "single"):
            raise ValueError(f"unknown input_buffer {self.input_buffer!r}")
        style = "logic" if weights is not None else \
            table_style(self.table_style, len(table) * codewords)
        nf, sf = outputs // pe, groups // simd
        index_bits = index_width(in_levels)
        code_bits, codeword_bits = group * index_bits, index_width(codewords)

        # proven bounds: per codeword column, per output, per SIMD lane, per accumulator
        column = [Bounds.of([row[k] for row in table]) for k in range(codewords)]
        sums = tuple(sum_bounds((column[k] for k in row), b)
                     for row, b in zip(index, bias, strict=True))
        lane_outputs = [range(p, outputs, pe) for p in range(pe)]        # o = nf*pe + p
        lanes = tuple(tuple(union(column[index[o][g]] for o in lane_outputs[p]
                                  for g in range(s, groups, simd))
                            for s in range(simd)) for p in range(pe))
        acc_fields = []
        for p in range(pe):
            partial = []
            for o in lane_outputs[p]:
                total = Bounds(bias[o], bias[o])
                for tile in range(sf):
                    total = sum_bounds((column[index[o][g]]
                                        for g in range(tile * simd, (tile + 1) * simd)), total)
                    partial.append(total)
            acc_fields.append(union(partial))
        if isinstance(self.activation, Argmax):
            # the lanes at one width: an argmax compare of a narrower lane sign-extends it,
            # and synthesis then moves the compare's top bit out of its carry chain into a
            # LUT after it (measured on the ECP5, bench/RESULTS.md)
            acc_fields = [union(acc_fields)] * pe
        acc_fields = [field_of(bounds) for bounds in acc_fields]
        tree_depth, max_depth = (simd - 1).bit_length(), (pe - 1).bit_length()
        # the lookup (two registers) or the codebook baseline's codebook and multiply take a
        # cycle more than the integer baseline's multiply; the next-vector buffer a cycle;
        # thresholds are compared in halves, joined, then counted when more than one
        single_buffer = str(self.input_buffer) == "single" and nf * sf > 1
        compare = 2 + (self.activation.count > 1) \
            if isinstance(self.activation, Thresholds) else 0
        latency = nf * sf + _registers(tree_depth, register_every) + 6 - single_buffer \
            + compare + (weights is None or self.codebook_rom)
        if isinstance(self.activation, Argmax):        # + the running maximum's compare
            latency += _registers(max_depth, register_every) + (sf > 1)
        # the accumulators add in two cycles (split low / high) when any is wide
        acc_split = max(f.width for f in acc_fields) > ACC_SPLIT_BITS
        latency += acc_split
        weight_field = None
        if weights is not None:
            weight_field = field_of(Bounds.of(weights).union(Bounds(-1, 0)))
        weight_width = pe * simd * (weight_field.width if weight_field and not self.codebook_rom
                                    else codeword_bits)
        # a weight ROM in block RAM: its output register is registered once more in the fabric
        latency += _weight_in_block_ram(weight_style, nf * sf, weight_width) \
            + (_weight_chunks(weight_style, nf * sf, weight_width) > 0)
        fill(self, table=table, weight_index=index, bias=bias, in_levels=in_levels, group=group,
             pe=pe, simd=simd, table_style=style, register_every=register_every,
             weight_style=weight_style, input_buffer=str(self.input_buffer),
             single_buffer=single_buffer, weights=weights, nf=nf, sf=sf, index_bits=index_bits,
             code_bits=code_bits,
             codeword_bits=codeword_bits, table_depth=codewords << code_bits,
             weight_depth=nf * sf, codebook_rom=bool(self.codebook_rom),
             weight_width=weight_width,
             weight_field=weight_field, term=field_of(Bounds.of([v for r in table for v in r])),
             sum_bounds=sums, acc=field_of(union(sums + (Bounds(0, 0),))), lane_bounds=lanes,
             tree_bounds=tuple(tree_levels(lane, lambda a, b: a + b) for lane in lanes),
             acc_fields=tuple(acc_fields), acc_split=acc_split,
             final_bounds=((union(sums),) * pe if isinstance(self.activation, Argmax)
                           else tuple(union(sums[o] for o in lane_outputs[p])
                                      for p in range(pe))),
             tree_depth=tree_depth, max_depth=max_depth, latency=latency, ii=nf * sf)

    @property
    def multiplies(self):
        return self.weights is not None

    @property
    def outputs(self):
        return len(self.weight_index)

    @property
    def groups(self):
        return len(self.weight_index[0])

    @property
    def in_port(self):
        return Vector(Field(self.index_bits), self.groups * self.group)

    @property
    def element(self):
        """One output element: a threshold count or an accumulator (argmax: None)."""
        if isinstance(self.activation, Thresholds):
            return Field(index_width(self.activation.count + 1))
        return None if isinstance(self.activation, Argmax) else self.acc

    @property
    def out_port(self):
        if isinstance(self.activation, Argmax):
            return Field(index_width(self.outputs))
        return Vector(self.element, self.outputs)

    @property
    def weight_chunks(self):
        """How many 64-word chunks the weight ROM is built from in logic (three registered
        steps: 16-word pieces, the chunk, then the chunk chosen; latency + 1), or 0 when it is
        one memory (see :data:`WEIGHT_LOGIC_BITS` and
        :class:`~nomul.design.options.WeightStyle`)."""
        return _weight_chunks(self.weight_style, self.weight_depth, self.weight_width)

    @property
    def weight_in_block_ram(self):
        """Whether the weight ROM is one memory past a chunk's size (block RAM), whose
        registered output is registered once more in the fabric: the route from the RAM,
        often long, is then a path of its own (latency + 1)."""
        return _weight_in_block_ram(self.weight_style, self.weight_depth, self.weight_width)

    def weight_fields(self, k):
        """``(value, bits)`` the weight ROM stores for codeword ``k``: its index, or with
        ``weights`` the integer weight in two's complement."""
        if self.weight_field is None or self.codebook_rom:
            return k, self.codeword_bits
        bits = self.weight_field.width
        return self.weights[k] & ((1 << bits) - 1), bits

    def weight_words(self):
        """One word per cycle: lane ``(p, s)``'s field at ``(p * simd + s) * bits``; word
        ``nf * sf_count + sf`` holds ``weight_index[nf*pe + p][sf*simd + s]``."""
        words = []
        for nf in range(self.nf):
            for sf in range(self.sf):
                word = 0
                for p in range(self.pe):
                    for s in range(self.simd):
                        k = self.weight_index[nf * self.pe + p][sf * self.simd + s]
                        value, bits = self.weight_fields(k)
                        word |= value << ((p * self.simd + s) * bits)
                words.append(word)
        return words

    def table_words(self):
        """The product-table memory: word ``(k << code_bits) | code`` (:func:`code_columns`)."""
        return [value for column in code_columns(self.table, self.in_levels, self.group)
                for value in column]

    def lane_sequences(self):
        """``[p][s]``: the codewords lane ``(p, s)`` reads, one per cycle of a vector."""
        return [[tuple(self.weight_index[nf * self.pe + p][sf * self.simd + s]
                       for nf in range(self.nf) for sf in range(self.sf))
                 for s in range(self.simd)] for p in range(self.pe)]

    def per_tile_thresholds(self, p, t):
        """Threshold ``t`` of PE ``p``'s output in every output tile, clamped into its final
        sums' ``lo .. hi + 1`` (same counts, narrower constants)."""
        final = self.final_bounds[p]
        rows = self.activation.rows
        return [min(max(rows[n * self.pe + p][t], final.lo), final.hi + 1)
                for n in range(self.nf)]


@dataclass(frozen=True)
class WindowPlan:
    """A sliding-window generator: one whole ``(C, *spatial)`` tensor in, one patch per output
    position out (taps ``(ky, kx, c)``, a pad bit per tap). Latency 2, ii = positions."""

    shape: tuple
    kernel: tuple
    stride: tuple | None = None
    padding: tuple | None = None
    index_width: int = 1

    latency = 2

    def __post_init__(self):
        shape, kernel, stride, padding, out_spatial = as_window(
            self.shape, self.kernel, self.stride, self.padding, default_stride=1)
        width = as_int(self.index_width, "index_width", minimum=1)
        positions, taps = math.prod(out_spatial), math.prod(kernel)
        fill(self, shape=shape, kernel=kernel, stride=stride, padding=padding,
             index_width=width, out_spatial=out_spatial, positions=positions, taps=taps,
             patch_size=taps * shape[0], ii=positions)

    @property
    def in_port(self):
        return Vector(Field(self.index_width), math.prod(self.shape))


@dataclass(frozen=True)
class CollectorPlan:
    """Gathers ``positions`` result vectors of ``channels`` elements into one channels-first
    tensor. Latency 1, ii = positions."""

    positions: int
    channels: int
    element: Field

    latency = 1

    def __post_init__(self):
        positions = as_int(self.positions, "positions", minimum=1)
        channels = as_int(self.channels, "channels", minimum=1)
        as_field(self.element, "element")
        fill(self, positions=positions, channels=channels, ii=positions)

    @property
    def in_port(self):
        return Vector(self.element, self.channels)

    @property
    def out_port(self):
        return Vector(self.element, self.channels * self.positions)


@dataclass(frozen=True)
class FoldedConvPlan(_WeightedStage):
    """A convolution through a folded engine: ``window`` -> padding map (a padded tap enters
    as ``pad_index``) -> ``engine`` -> ``collector``. ``ii`` = positions x engine ii;
    ``latency`` = window + engine + (positions - 1) x engine ii + collector."""

    window: WindowPlan
    engine: FoldedPlan
    collector: CollectorPlan
    pad_index: int
    describe_as: tuple = ()

    def __post_init__(self):
        positions = self.window.positions
        fill(self, pad_index=as_int(self.pad_index, "pad_index", minimum=0),
             ii=positions * self.engine.ii,
             latency=(self.window.latency + self.engine.latency
                      + (positions - 1) * self.engine.ii + self.collector.latency))

    @property
    def activation(self):
        return self.engine.activation

    @property
    def acc(self):
        return self.engine.acc

    @property
    def in_port(self):
        return self.window.in_port

    @property
    def out_port(self):
        return self.collector.out_port
