# SPDX-License-Identifier: MIT
"""Folded (FINN-style PE x SIMD) dense layer: weight indices from a ROM, products from tables.

:class:`FoldedDense` computes a dense layer of ``M`` outputs over ``G`` input groups (``N = G *
group`` input indices) with ``pe`` outputs and ``simd`` input groups per clock, so one input
vector takes ``NF * SF`` cycles (``NF = M / pe`` output tiles, ``SF = G / simd`` input tiles,
outputs tile-major: tile ``nf`` holds outputs ``nf*pe .. nf*pe + pe - 1``). It is a drop-in
replacement for :class:`~nomul.gateware.layers.UnrolledLayer`: same ``i``/``o`` payloads, same
``acc_shape`` and ``kind``, and it matches :func:`nomul.models.reference.weighted` followed by
the layer's activation (:func:`~nomul.models.reference.threshold_count`,
:func:`~nomul.models.reference.argmax` with ties to the lowest index, or the raw accumulators)
exactly, for every input index below ``in_levels``.

Pipeline (one global enable; registers named after their stage)::

    i -> next vector buffer -> working vector (rotated by simd groups per cycle)
      -> weight-index ROM (word = pe*simd codeword indices, read at the registered word
         address), the working tile waiting beside it
      -> product tables (pe*simd sync read ports, address Cat(group code, codeword index))
      -> per PE: adder tree over the simd lanes (a register every ``register_every`` levels)
      -> per PE: accumulator (starts from the bias of its output)
      -> after the last input tile: activation, shifted into the result collector
      -> output register

Timing, with ``T = NF * SF``, ``Lt = floor(ceil(log2 simd) / register_every)`` and (argmax
only) ``La = floor(ceil(log2 pe) / register_every)`` (both 0 when ``register_every == 0``):

- ``ii = T``: one vector per ``T`` cycles, with no bubble while ``o.ready`` is high.
- ``latency = T + Lt + 5`` (thresholds, raw) or ``T + Lt + La + 5`` (argmax): cycles from the
  input transfer of a vector that finds the engine idle to its result being taken with
  ``o.ready`` high (input buffer 1, working vector 1, weight ROM 1, product tables 1, tree
  ``Lt``, ``T`` accumulation cycles, argmax tree ``La``, output register 1). A vector accepted
  while the engine is busy waits in the input buffer for the current one to finish; under a
  full-rate input stream (input always valid) every vector after the first is accepted the cycle
  the previous one starts, so its latency is ``latency + T - 1``.

Back-pressure: the engine keeps computing the next vector while the output register waits for
``o.ready``; the whole pipeline freezes only on the cycle a finished result would overwrite a
result not yet taken.

No multiplier: table addresses are concatenations, the input tile is selected by rotating the
working vector, weight and bias selection are ROM reads and constant muxes; the only products
(``nf * pe`` and the like) are computed in Python.
"""

import operator

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..numeric import Bounds, index_width, sum_bounds
from .adder_tree import _shape
from .argmax import compare_select
from .tables import code_columns

__all__ = ["FoldedDense", "TABLE_STYLES", "BLOCK_THRESHOLD"]

TABLE_STYLES = ("auto", "logic", "block")
BLOCK_THRESHOLD = 512      # ``table_style="auto"``: block RAM from this many table entries up
ACTIVATIONS = ("thresholds", "argmax", "raw")


def _int(value, name, minimum=None):
    """A plain ``int`` from an int or numpy integer; TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value}")
    return value


def _union(bounds):
    bounds = list(bounds)
    result = bounds[0]
    for b in bounds[1:]:
        result = result.union(b)
    return result


def _tree_levels(leaves, combine):
    """Node values of a binary tree, level by level: adjacent pairs, an odd last node passes."""
    levels = [tuple(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(tuple(combine(below[j], below[j + 1]) if j + 1 < len(below) else below[j]
                            for j in range(0, len(below), 2)))
    return levels


def _registers(depth, register_every):
    """Pipeline registers inside a tree of ``depth`` levels: after every ``register_every``
    levels, counting the (always registered) stage after the root as level ``depth + 1``."""
    return depth // register_every if register_every else 0


class FoldedDense(wiring.Component):
    """A dense layer folded onto ``pe`` x ``simd`` product lookups per cycle.

    Parameters
    ----------
    table : sequence of sequences of int
        ``table[address][codeword]``, the product table (``in_levels**group`` rows of ``K``).
    weight_index : sequence of sequences of int
        ``weight_index[o][g]``: the codeword of output ``o`` and input group ``g`` (M x G).
    bias : sequence of int
        Per output, in accumulator units.
    activation : tuple
        ``("thresholds", per_output_rows)`` (one ascending row of ``T >= 1`` thresholds per
        output, rows may differ), ``("argmax",)`` or ``("raw",)``.
    in_levels : int
        Levels of every input index (``>= 2``).
    group : int
        Inputs per table address (``d``); the layer reads ``N = G * group`` indices.
    pe : int
        Outputs computed in parallel; must divide ``M``.
    simd : int
        Input groups looked up per output per cycle; must divide ``G``.
    table_style : ``"auto"``, ``"logic"`` or ``"block"``
        Sets ``attrs={"rom_style": ...}`` on the product-table memory; ``"auto"`` picks
        ``"block"`` when the table has at least :data:`BLOCK_THRESHOLD` entries (``rows * K``).
    register_every : int
        A pipeline register after every ``register_every`` levels of the adder tree over the
        SIMD lanes (and of the argmax tree over the PE lanes); the accumulator (and the
        argmax running maximum) is always registered. ``0``: none inside the trees.

    Attributes
    ----------
    pe, simd, nf, sf : int
        The folding: ``nf = M / pe`` output tiles, ``sf = G / simd`` input tiles.
    ii : int
        ``nf * sf``: cycles per input vector at full throughput.
    latency : int
        ``nf*sf + Lt + 5`` (``+ La`` for argmax); see the module docstring.
    kind : str
        The activation kind.
    sum_bounds : tuple of Bounds
        Per output, the proven range of its final accumulator (bias + column bounds).
    acc_shape : Shape
        The smallest shape holding every output's ``sum_bounds`` and 0 (as in
        ``UnrolledLayer``; the ``raw`` element shape).
    acc_shapes : tuple of Shape
        Per PE, its accumulator register (holds every partial sum of its outputs).
    term_shape : Shape
        A product-table entry.
    table_style : str
        ``"logic"`` or ``"block"`` (``"auto"`` resolved).
    table_depth : int
        ``K << (group * index_width(in_levels))``: the product-table memory, addressed by
        ``Cat(group code, codeword index)`` (unreachable codes hold 0).
    weight_depth, weight_width : int
        The weight-index ROM: ``nf * sf`` words of ``pe * simd * index_width(K)`` bits; word
        ``nf * sf_count + sf`` holds ``weight_index[nf*pe + p][sf*simd + s]`` in field
        ``p * simd + s`` (field 0 in the least significant bits).

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(unsigned(index_width(in_levels)), N)))``
        One whole input vector per transfer, element 0 in the least significant bits.
    o : ``Out(stream.Signature(...))``
        thresholds: ``ArrayLayout(unsigned(index_width(T + 1)), M)``; argmax:
        ``unsigned(index_width(M))``; raw: ``ArrayLayout(acc_shape, M)``.

    Notes
    -----
    The product tables are **one shared** :class:`~amaranth.lib.memory.Memory` with
    ``pe * simd`` synchronous read ports (all ports read the same contents). Synthesis maps it
    as the target allows: as LUT ROM every port is its own ROM; as block RAM Yosys packs the
    ports onto the RAM primitives' read ports and replicates the memory only as far as needed
    (one copy per port on iCE40, two ports per dual-port block on ECP5 and Xilinx).
    """

    def __init__(self, table, weight_index, bias, activation, *, in_levels, group, pe, simd,
                 table_style="auto", register_every=1):
        in_levels = _int(in_levels, "in_levels", 2)
        group = _int(group, "group", 1)
        pe = _int(pe, "pe", 1)
        simd = _int(simd, "simd", 1)
        register_every = _int(register_every, "register_every", 0)
        table = tuple(tuple(int(v) for v in row) for row in table)
        if len(table) != in_levels ** group:
            raise ValueError(f"table has {len(table)} rows, expected in_levels**group = "
                             f"{in_levels ** group}")
        if len({len(row) for row in table}) != 1 or not table[0]:
            raise ValueError("table rows must all have the same, non-zero number of codewords")
        codewords = len(table[0])
        weight_index = tuple(tuple(int(k) for k in row) for row in weight_index)
        if not weight_index or not weight_index[0] \
                or len({len(row) for row in weight_index}) != 1:
            raise ValueError("weight_index must be a non-empty M x G matrix")
        outputs, groups = len(weight_index), len(weight_index[0])
        for o, row in enumerate(weight_index):
            for g, k in enumerate(row):
                if not 0 <= k < codewords:
                    raise ValueError(f"weight_index[{o}][{g}] = {k} is outside the "
                                     f"{codewords} codewords")
        bias = tuple(int(b) for b in bias)
        if len(bias) != outputs:
            raise ValueError(f"{len(bias)} biases for {outputs} outputs")
        kind = activation[0]
        if kind not in ACTIVATIONS:
            raise ValueError(f"unknown activation {kind!r}; choose from {', '.join(ACTIVATIONS)}")
        if groups % simd:
            raise ValueError(f"simd {simd} does not divide the {groups} input groups")
        if outputs % pe:
            raise ValueError(f"pe {pe} does not divide the {outputs} outputs")
        if table_style not in TABLE_STYLES:
            raise ValueError(f"unknown table_style {table_style!r}; choose from "
                             f"{', '.join(TABLE_STYLES)}")
        thresholds = None
        if kind == "thresholds":
            thresholds = tuple(tuple(int(t) for t in row) for row in activation[1])
            if len(thresholds) != outputs:
                raise ValueError(f"{len(thresholds)} threshold rows for {outputs} outputs")
            for o, row in enumerate(thresholds):
                if not row or len(row) != len(thresholds[0]):
                    raise ValueError(f"thresholds[{o}] has {len(row)} thresholds; every row "
                                     f"needs the same count >= 1")
                if list(row) != sorted(row):
                    raise ValueError(f"thresholds[{o}] must be ascending, not {row!r}")

        self._table, self._weight_index, self._bias = table, weight_index, bias
        self._thresholds = thresholds
        self._in_levels, self._group = in_levels, group
        self.kind = kind
        self.pe, self.simd = pe, simd
        self.nf, self.sf = outputs // pe, groups // simd
        self.register_every = register_every
        self.table_style = table_style if table_style != "auto" else (
            "block" if len(table) * codewords >= BLOCK_THRESHOLD else "logic")

        self._index_bits = index_width(in_levels)
        self._code_bits = group * self._index_bits
        self._codeword_bits = index_width(codewords)
        self.table_depth = codewords << self._code_bits
        self.weight_depth = self.nf * self.sf
        self.weight_width = pe * simd * self._codeword_bits
        self.term_shape = _shape(Bounds.of([v for row in table for v in row]))

        # proven bounds: per codeword column, per output, per SIMD lane, per accumulator
        column = [Bounds.of([row[k] for row in table]) for k in range(codewords)]
        self.sum_bounds = tuple(sum_bounds((column[k] for k in row), b)
                                for row, b in zip(weight_index, bias, strict=True))
        self.acc_shape = _shape(_union(self.sum_bounds + (Bounds(0, 0),)))
        lane_outputs = [range(p, outputs, pe) for p in range(pe)]   # o = nf*pe + p
        self._lane_bounds = tuple(
            tuple(_union(column[weight_index[o][g]] for o in lane_outputs[p]
                         for g in range(s, groups, simd))
                  for s in range(simd))
            for p in range(pe))
        self._tree_bounds = tuple(_tree_levels(lanes, lambda a, b: a + b)
                                  for lanes in self._lane_bounds)
        acc_shapes = []
        for p in range(pe):
            partial = []
            for o in lane_outputs[p]:
                total = Bounds(bias[o], bias[o])
                for sf in range(self.sf):
                    total = sum_bounds((column[weight_index[o][g]]
                                        for g in range(sf * simd, (sf + 1) * simd)), total)
                    partial.append(total)
            acc_shapes.append(_shape(_union(partial)))
        self.acc_shapes = tuple(acc_shapes)
        self._final_bounds = tuple(_union(self.sum_bounds[o] for o in lane_outputs[p])
                                   for p in range(pe))

        self._tree_depth = (simd - 1).bit_length()                 # ceil(log2 simd)
        self._max_depth = (pe - 1).bit_length()                    # ceil(log2 pe)
        tree_registers = _registers(self._tree_depth, register_every)
        self.latency = self.nf * self.sf + tree_registers + 5
        if kind == "argmax":
            self.latency += _registers(self._max_depth, register_every)
        self.ii = self.nf * self.sf

        if kind == "thresholds":
            self._elem_shape = unsigned(index_width(len(thresholds[0]) + 1))
            out_shape = data.ArrayLayout(self._elem_shape, outputs)
        elif kind == "argmax":
            out_shape = unsigned(index_width(outputs))
        else:
            self._elem_shape = self.acc_shape
            out_shape = data.ArrayLayout(self.acc_shape, outputs)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(unsigned(self._index_bits),
                                                      groups * group))),
            "o": Out(stream.Signature(out_shape)),
        })

    # -- ROM contents ----------------------------------------------------------------------

    def _weight_field(self, k):
        """``(value, bits)`` stored in the weight ROM for codeword ``k``: its index."""
        return k, self._codeword_bits

    def _weight_words(self):
        """One word per cycle: the ``pe * simd`` lanes' fields, lane ``p * simd + s`` at
        ``(p * simd + s) * bits``."""
        words = []
        for nf in range(self.nf):
            for sf in range(self.sf):
                word = 0
                for p in range(self.pe):
                    for s in range(self.simd):
                        k = self._weight_index[nf * self.pe + p][sf * self.simd + s]
                        value, bits = self._weight_field(k)
                        word |= value << ((p * self.simd + s) * bits)
                words.append(word)
        return words

    def _table_words(self):
        """The product-table memory: word ``(k << code_bits) | code`` (:func:`code_columns`)."""
        return [value for column in code_columns(self._table, self._in_levels, self._group)
                for value in column]

    # -- elaboration -----------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        enable = Signal()                     # low only when a result would overwrite o
        total = self.nf * self.sf
        vector_bits = len(self.i.payload.as_value())
        tile_bits = self.simd * self._code_bits

        # -- input double buffer and the engine's counters --------------------------------
        next_vector = Signal(vector_bits, reset_less=True)
        next_full = Signal()
        work = Signal(vector_bits, reset_less=True)   # tile sf in the low tile_bits
        run = Signal()
        waddr, sf, nf = Signal(range(total)), Signal(range(self.sf)), Signal(range(self.nf))
        n_run = Signal()
        n_waddr = Signal.like(waddr)
        n_sf, n_nf = Signal.like(sf), Signal.like(nf)
        last_issue = run & (waddr == total - 1)
        load = next_full & (~run | last_issue)

        m.d.comb += self.i.ready.eq(~next_full | (load & enable))
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [next_vector.eq(self.i.payload), next_full.eq(1)]
        with m.Elif(load & enable):
            m.d.sync += next_full.eq(0)

        with m.If(load):
            m.d.comb += n_run.eq(1)               # counters restart at 0
        with m.Elif(run & ~last_issue):
            wrap = sf == self.sf - 1
            m.d.comb += [n_run.eq(1), n_waddr.eq(waddr + 1),
                         n_sf.eq(Mux(wrap, 0, sf + 1)), n_nf.eq(Mux(wrap, nf + 1, nf))]
        with m.If(enable):
            m.d.sync += [run.eq(n_run), waddr.eq(n_waddr), sf.eq(n_sf), nf.eq(n_nf)]
            with m.If(load):
                m.d.sync += work.eq(next_vector)
            with m.Else():
                m.d.sync += work.eq(work.rotate_right(tile_bits))

        # -- weight-index ROM, read at a registered word address -----------------------------
        # Its word arrives a cycle after the issue, so the tile and the tags wait a cycle for it.
        # A register of its own (a copy of ``waddr`` without the reset and the counter logic
        # around it) keeps the address arithmetic out of a ROM that synthesis leaves to logic;
        # block RAM mapping is unchanged.
        m.submodules.weights = weights = Memory(
            shape=unsigned(self.weight_width), depth=total, init=self._weight_words())
        weight_port = weights.read_port(domain="sync")
        weight_addr = Signal.like(waddr, name="weight_addr", reset_less=True)
        with m.If(enable):
            m.d.sync += weight_addr.eq(n_waddr)
        m.d.comb += [weight_port.addr.eq(weight_addr), weight_port.en.eq(enable)]
        tile = Signal(tile_bits, name="tile_weights", reset_less=True)
        with m.If(enable):
            m.d.sync += tile.eq(work[:tile_bits])

        def stage(tags, name):
            """Register a dict of tag signals (valid first) under the global enable."""
            out = {}
            for key, value in tags.items():
                reg = Signal(value.shape(), name=f"{key}_{name}", reset_less=key != "valid")
                with m.If(enable):
                    m.d.sync += reg.eq(value)
                out[key] = reg
            return out

        tags = stage({"valid": run, "first": sf == 0, "last_sf": sf == self.sf - 1,
                      "nf": nf, "last_nf": nf == self.nf - 1}, "weights")
        tags = stage(tags, "products")

        nodes = self._product_leaves(m, enable, tile, weight_port)   # per PE: tree leaves

        # -- adder trees over the SIMD lanes, in lockstep ----------------------------------
        for level in range(1, self._tree_depth + 1):
            registered = self.register_every and level % self.register_every == 0
            for p in range(self.pe):
                upper = []
                for j in range(0, len(nodes[p]), 2):
                    if j + 1 == len(nodes[p]):
                        node = nodes[p][j]             # odd last node passes through
                    else:
                        node = Signal(_shape(self._tree_bounds[p][level][j // 2]),
                                      name=f"sum_{p}_l{level}_{j // 2}")
                        m.d.comb += node.eq(nodes[p][j] + nodes[p][j + 1])
                    if registered:
                        reg = Signal(node.shape(), name=f"sum_{p}_l{level}_{j // 2}_q",
                                     reset_less=True)
                        with m.If(enable):
                            m.d.sync += reg.eq(node)
                        node = reg
                    upper.append(node)
                nodes[p] = upper
            if registered:
                tags = stage(tags, f"l{level}")

        # -- accumulators, one per PE, starting from the bias of their output --------------
        accs = []
        for p in range(self.pe):
            acc = Signal(self.acc_shapes[p], name=f"acc_{p}", reset_less=True)
            start = self._per_tile(m, [self._bias[n * self.pe + p] for n in range(self.nf)],
                                   tags["nf"], f"bias_{p}")
            with m.If(enable):
                m.d.sync += acc.eq(Mux(tags["first"], start, acc) + nodes[p][0])
            accs.append(acc)
        tags = stage(tags, "acc")
        tags = {"valid": tags["valid"] & tags["last_sf"], "nf": tags["nf"],
                "last_nf": tags["last_nf"]}            # valid: a finished output tile

        if self.kind == "argmax":
            done, result = self._argmax(m, enable, accs, tags, stage)
        else:
            done, result = self._collect(m, enable, accs, tags)

        # -- output register ---------------------------------------------------------------
        m.d.comb += enable.eq(~(done & self.o.valid & ~self.o.ready))
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(done & enable):
            m.d.sync += [self.o.valid.eq(1), self.o.payload.eq(result)]
        return m

    def _product_leaves(self, m, enable, tile, weight_port):
        """Per PE, the ``simd`` products of ``tile`` (the ``simd`` group codes, slot 0 in the
        low bits) with the weight word (registered: latency 1)."""
        # one shared product-table memory with pe*simd read ports
        m.submodules.table = table = Memory(
            shape=self.term_shape, depth=self.table_depth, init=self._table_words(),
            attrs={"rom_style": self.table_style})
        cb, kb = self._code_bits, self._codeword_bits
        nodes = []                                     # per PE: the current tree level
        for p in range(self.pe):
            leaves = []
            for s in range(self.simd):
                port = table.read_port(domain="sync")
                field = (p * self.simd + s) * kb
                m.d.comb += [port.addr.eq(Cat(tile[s * cb:(s + 1) * cb],
                                              weight_port.data[field:field + kb])),
                             port.en.eq(enable)]
                leaf = Signal(_shape(self._lane_bounds[p][s]), name=f"term_{p}_{s}")
                m.d.comb += leaf.eq(port.data)         # within the lane's bounds: exact
                leaves.append(leaf)
            nodes.append(leaves)
        return nodes


    def _per_tile(self, m, values, nf, name):
        """A constant chosen by the output-tile number: a Const, or a mux of constants."""
        if len(set(values)) == 1:
            return Const(values[0], _shape(Bounds.of(values)))
        chosen = Signal(_shape(Bounds.of(values)), name=name)
        with m.Switch(nf):
            for n, value in enumerate(values):
                with m.Case(n):
                    m.d.comb += chosen.eq(value)
        return chosen

    def _collect(self, m, enable, accs, tags):
        """Thresholds or raw: per-PE values into a shift register of the finished tiles."""
        values = []
        for p, acc in enumerate(accs):
            value = Signal(self._elem_shape, name=f"value_{p}")
            if self.kind == "raw":
                m.d.comb += value.eq(acc)                  # final sums fit acc_shape
            else:
                final = self._final_bounds[p]
                count = []
                for t in range(len(self._thresholds[0])):
                    # clamp into lo .. hi + 1 of the final sums: same counts, narrower constants
                    row = [min(max(self._thresholds[n * self.pe + p][t], final.lo),
                               final.hi + 1) for n in range(self.nf)]
                    threshold = self._per_tile(m, row, tags["nf"], f"threshold_{p}_{t}")
                    count.append(acc >= threshold)
                m.d.comb += value.eq(sum(count))            # thermometer -> count
            values.append(value)
        tile = Cat(*values)
        done = tags["valid"] & tags["last_nf"]
        if self.nf == 1:
            return done, tile
        # tiles 0 .. NF-2 shift in at the top; the last one completes the vector below them
        collected = Signal(len(tile) * (self.nf - 1), name="collected", reset_less=True)
        with m.If(enable & tags["valid"]):
            m.d.sync += collected.eq(Cat(collected[len(tile):], tile))
        return done, Cat(collected, tile)

    def _argmax(self, m, enable, accs, tags, stage):
        """A compare-select tree over the PE lanes, then a running maximum over the tiles."""
        nodes = []
        for p, acc in enumerate(accs):
            value = Signal(_shape(self._final_bounds[p]), name=f"final_{p}")
            m.d.comb += value.eq(acc)                      # within its final bounds: exact
            nodes.append((self._final_bounds[p], value, Signal(0, name=f"lane_{p}")))
        for level in range(1, self._max_depth + 1):
            registered = self.register_every and level % self.register_every == 0
            upper = []
            for j in range(0, len(nodes), 2):
                name = f"l{level}_{j // 2}"
                if j + 1 < len(nodes):
                    b, value, index = compare_select(m, nodes[j], nodes[j + 1], level=level,
                                                     name=name)
                else:
                    b, value, index = nodes[j]
                    index = Cat(index, Const(0, 1))
                if registered:
                    value_q = Signal(value.shape(), name=f"max_{name}_q", reset_less=True)
                    index_q = Signal(len(index), name=f"idx_{name}_q", reset_less=True)
                    with m.If(enable):
                        m.d.sync += [value_q.eq(value), index_q.eq(index)]
                    value, index = value_q, index_q
                upper.append((b, value, index))
            nodes = upper
            if registered:
                tags = stage(tags, f"max_l{level}")
        bounds, tile_max, tile_index = nodes[0]
        out_shape = self.o.payload.shape()
        base = self._per_tile(m, [n * self.pe for n in range(self.nf)], tags["nf"], "base")
        candidate = Signal(out_shape, name="candidate")
        m.d.comb += candidate.eq(base + tile_index)
        best = Signal(_shape(_union(self._final_bounds)), name="best", reset_less=True)
        best_index = Signal(out_shape, name="best_index", reset_less=True)
        beats = Signal()
        m.d.comb += beats.eq((tags["nf"] == 0) | (tile_max > best))   # ties keep the earlier
        with m.If(enable & tags["valid"] & beats):
            m.d.sync += [best.eq(tile_max), best_index.eq(candidate)]
        return tags["valid"] & tags["last_nf"], Mux(beats, candidate, best_index)
