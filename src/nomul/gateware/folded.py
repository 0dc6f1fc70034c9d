# SPDX-License-Identifier: MIT
"""Folded (FINN-style PE x SIMD) dense layer: weight indices from a ROM, products from tables.

:class:`FoldedDense` computes a dense layer of ``M`` outputs over ``G`` input groups (``N = G *
group`` input indices) with ``pe`` outputs and ``simd`` input groups per clock, so one input
vector takes ``NF * SF`` cycles (``NF = M / pe`` output tiles, ``SF = G / simd`` input tiles,
outputs tile-major: tile ``nf`` holds outputs ``nf*pe .. nf*pe + pe - 1``). It is a drop-in
replacement for :class:`~nomul.gateware.layers.MacUnrolledLayer`: same ``i``/``o`` payloads, same
``acc_shape`` and ``kind``, and it matches :func:`nomul.models.reference.weighted` followed by
the layer's activation (:func:`~nomul.models.reference.threshold_count`,
:func:`~nomul.models.reference.argmax` with ties to the lowest index, or the raw accumulators)
exactly, for every input index below ``in_levels``.

Pipeline (one global enable; registers named after their stage)::

    i -> next vector buffer -> working vector (rotated by simd groups per cycle)
      -> weight-index ROM (word = pe*simd codeword indices, read at the word-address
         counter, a register; in logic in three registered steps, or a memory:
         ``plan.weight_style``)
      -> the word registered again (off the block RAM's output; from block RAM once more in
         the fabric), the working tile waiting beside it
      -> product tables (pe*simd sync read ports, address Cat(group code, codeword index)),
         each read registered again (in logic: both halves of the table registered, then
         the half chosen by the top address bit)
      -> per PE: adder tree over the simd lanes (a register every ``register_every`` levels)
      -> per PE: accumulator (starts from the bias of its output, chosen a stage ahead;
         wider than ``ACC_SPLIT_BITS``: the low half, then the high half with its carry)
      -> after the last input tile: thresholds compared in halves (a stage; the thresholds
         chosen a stage ahead), the halves joined (a stage), counted (a stage, with more
         than one threshold), or raw, shifted into the result collector; or argmax (the
         running maximum compared in halves)
      -> output register

Every register-to-register path is short: the counters' end tests are registers computed a
cycle ahead, per-tile constants (biases, thresholds) are registered, the block RAM output is
registered before the lookup, a wide accumulator adds in two half-width steps, the
threshold compares and the running maximum's compare are half-length carry chains registered
apart, a logic weight ROM reads 16-word pieces (one 4-input function a bit), the word-address
counter is the register the ROM reads (its increment sits by its own flip-flops), and the
stall (``enable``), the load of the next vector and the output register's load
(``deliver``) are registers computed a cycle ahead from the engine's own registers (see
Back-pressure), so the nets that fan out to hundreds of clock enables and multiplexers start
at flip-flops; so do the input buffer's load (``accept``, the buffer's emptiness kept in a
register of its own) and the collector's shift (``enable & valid``, a cycle ahead), and the
output payload has no reset (``o.valid`` guards it), so its clock enables are ``deliver``
alone.

Timing, with ``T = NF * SF``, ``Lt = floor(ceil(log2 simd) / register_every)`` and (argmax
only) ``La = floor(ceil(log2 pe) / register_every)`` (both 0 when ``register_every == 0``):

- ``ii = T``: one vector per ``T`` cycles, with no bubble while ``o.ready`` is high.
- ``latency = T + Lt + 10`` (thresholds; ``+ 9`` with one threshold), ``T + Lt + 7`` (raw)
  or ``T + Lt + La + 7`` (argmax; ``+ 1`` when ``SF > 1``: the running maximum's compare
  stage), each ``+ 1`` with ``plan.acc_split`` (the high half's cycle) and ``+ 1`` with
  ``plan.weight_in_block_ram`` or ``plan.weight_chunks`` (the weight word's fabric
  register, or the chunk's step): cycles from the input transfer of a vector that finds the
  engine idle to its result being taken with ``o.ready`` high (input buffer 1, working
  vector 1, weight ROM 1, its output register 1, a fabric register after a block-RAM weight
  ROM or a chunk step 1, product tables 2, tree ``Lt``, ``T`` accumulation cycles,
  threshold compare 2 or 3 (the halves, joined, counted), argmax tree ``La``, output
  register 1); the codebook multiplier baseline the same (codebook ROM 1, multiplier 1),
  the integer one a cycle less (multiplier 1). A vector accepted while the engine is busy
  waits in the input buffer for the current one to finish; under a full-rate input stream
  (input always valid) every vector after the first is accepted the cycle after the
  previous one starts, so its latency is ``latency + T - 2`` (``T == 1``: ``latency``). With
  ``input_buffer="single"`` (``plan.single_buffer``, ``T >= 2``) there is no input buffer in
  front of the working vector: ``latency`` is 1 less, a vector is transferred when the
  engine starts it, so every vector takes ``latency``, and the II is kept because the
  upstream holds its result in its output register until then.

Back-pressure: ``i.ready`` is the input buffer's emptiness, a register. The engine keeps
computing the next vector while the output register waits for ``o.ready``; the whole pipeline
freezes only on the cycle a finished result finds the output register still full. With
``T >= 2`` that test reads only the engine's own registers (the output register, emptied
with ``o.ready`` high, is always free again ``T`` cycles later), so no ready signal crosses
the engine combinationally and a chain of folded layers has no combinational path from one
layer to the next but a valid or a ready into a register. With ``T == 1`` the stall also
reads ``o.ready`` (full rate needs it).

No multiplier: table addresses are concatenations, the input tile is selected by rotating the
working vector, weight and bias selection are ROM reads and constant muxes; the only products
(``nf * pe`` and the like) are computed in Python. The multiplier baseline (a plan with
``weights``) keeps the integer weights themselves in the weight ROM and multiplies each lane's
index by its weight instead of reading a product table; everything else is the same engine.

The code follows the engine's parts: the controller (input double buffer, counters, the global
enable), the weight ROM, the PE lanes (products, lane trees, accumulators) and the result
(threshold counts or raw values shifted into a collector, or a running argmax).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib.memory import Memory

from ..design.activation import Argmax
from ..design.plans import WEIGHT_CHUNK, WEIGHT_PIECE, FoldedPlan, acc_low_bits
from ..design.trees import union
from ..numeric import Bounds
from .argmax import argmax_tree
from .order import at_least_in_halves, greater, greater_in_halves
from .pipeline import PlanComponent, layout_of, reduce_trees, shape_of

__all__ = ["FoldedDense"]


def _held(m, enable, value, name, shape=None):
    """A register named ``name`` loaded with ``value`` while ``enable`` is high (the engine's
    one stall rule); ``shape`` defaults to the value's."""
    reg = Signal(value.shape() if shape is None else shape, name=name, reset_less=True)
    with m.If(enable):
        m.d.sync += reg.eq(value)
    return reg


class FoldedDense(PlanComponent):
    """A dense layer folded onto ``pe`` x ``simd`` product lookups per cycle (a
    :class:`~nomul.design.plans.FoldedPlan`; see the module docstring for the pipeline).

    ``latency`` and ``ii`` are the plan's. In block RAM the product tables are **one shared**
    :class:`~amaranth.lib.memory.Memory` with ``pe * simd`` synchronous read ports (all read
    the same contents): Yosys packs the ports onto the RAM primitives' read ports and
    replicates the memory only as far as needed (one copy per port on iCE40, two ports per
    dual-port block on ECP5 and Xilinx). In logic they are the table's two halves (by the top
    address bit), two such memories, each port a ROM of its own (see ``_looked_up``).

    Members
    -------
    i : one whole input vector per transfer (``N`` indices), element 0 in the low bits.
    o : thresholds: ``M`` counts; argmax: the class index; raw: ``M`` accumulators.
    """

    plan_type = FoldedPlan

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        # high except when a finished result would overwrite o; with ii >= 2 a register
        # computed a cycle ahead, so the net fanning out to every clock enable starts at a
        # flip-flop (no reset and initially low: an iCE40 flip-flop starts at 0, and the
        # engine's first cycle has nothing to advance)
        enable = Signal(name="enable", reset_less=True)
        # enable's value in the next cycle (with ii >= 2 enable is a register loading it)
        next_enable = Signal(name="next_enable")
        counters, work = self._controller(m, enable, next_enable)
        run, sf, nf, wrap, waddr = counters
        weight_word = self._weight_rom(m, enable, waddr)
        history = []                          # the tags of every registered stage, in order
        loaded = {}                           # tag register name -> the value it loads

        def stage(tags, name):
            """Register a dict of tag signals (valid first) under the global enable."""
            out = {}
            for key, value in tags.items():
                reg = Signal(value.shape(), name=f"{key}_{name}",
                             reset_less=key not in ("valid", "done"))
                with m.If(enable):
                    m.d.sync += reg.eq(value)
                loaded[reg.name] = value
                out[key] = reg
            history.append(out)
            return out

        tile_bits = plan.simd * plan.code_bits
        tile = _held(m, enable, _held(m, enable, work[:tile_bits], "tile_codes"), "tile_codes_q")
        tags = stage({"valid": run, "first": sf == 0, "last_sf": wrap,
                      "nf": nf, "last_nf": nf == plan.nf - 1}, "weights")
        tags = stage(tags, "weight_word")
        if plan.weight_in_block_ram or plan.weight_chunks:  # the word's fabric register,
            tile = _held(m, enable, tile, "tile_codes_far")   # or the chunk's step
            tags = stage(tags, "weight_far")
        accs, tags = self._lanes(m, enable, tile, weight_word, tags, stage, history)

        def enabled(tag):
            """``enable & tag``; with ii >= 2 and ``tag`` a stage register, a register
            computed a cycle ahead, so the clock enables it drives read a flip-flop."""
            if plan.ii == 1 or getattr(tag, "name", None) not in loaded:
                return enable & tag
            ahead = Signal(name=f"{tag.name}_enabled")
            m.d.sync += ahead.eq(next_enable & Mux(enable, loaded[tag.name], tag))
            return ahead

        if isinstance(plan.activation, Argmax):
            done, result = self._argmax(m, enable, accs, tags, stage, loaded)
        else:
            done, result = self._collect(m, accs, tags, stage, history, enable, enabled)

        # -- output register ---------------------------------------------------------------
        # With two or more cycles per vector the engine stalls on its own state only (a
        # result ready while the last one still waits), so no ready crosses it
        # combinationally; o is then always empty again before the next result with o.ready
        # high. One cycle per vector needs the downstream ready to keep full rate.
        # the payload has no reset (o.valid guards it), so its clock enables are deliver alone
        payload = Signal(self.o.payload.shape(), name="payload", reset_less=True)
        m.d.comb += self.o.payload.eq(payload)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        if plan.ii == 1:
            deliver = done & enable
            m.d.comb += enable.eq(~(done & self.o.valid & ~self.o.ready))
        else:       # the same rule on the next values of done and o.valid, a cycle ahead
            deliver = Signal(name="deliver")           # done & enable == done & ~o.valid
            next_done = Mux(enable, loaded[done.name], done)
            next_valid = (self.o.valid & ~self.o.ready) | deliver
            m.d.comb += next_enable.eq(~(next_done & next_valid))
            m.d.sync += [enable.eq(next_enable), deliver.eq(next_done & ~next_valid)]
        with m.If(deliver):
            m.d.sync += [self.o.valid.eq(1), payload.eq(result)]
        return m

    # -- the controller ----------------------------------------------------------------------

    def _controller(self, m, enable, next_enable):
        """The input double buffer, the working vector (rotated one tile per cycle) and the
        counters. Returns ``(run, sf, nf, wrap, next word address)`` (``wrap``: ``sf`` is the
        last input tile, a register) and the working vector (the current input tile in its
        low bits).

        ``i.ready`` is the register ``accept`` (``~next_full``; with two or more cycles per
        vector a vector always finds the buffer empty in time, see the module docstring) or,
        with one, ``~next_full`` or a vector loaded this cycle; the end of a
        vector and of an input tile are registers computed a cycle ahead, so no comparison of
        the counters lies between a counter and the enables it drives.

        With ``plan.single_buffer`` (``input_buffer="single"``, two or more cycles per vector)
        the working vector is the only buffer: ``i.ready`` is a register computed a cycle
        ahead from ``next_enable``, high while the engine is enabled and idle or in the last
        cycle of its vector, and the working vector loads the upstream's payload on every
        cycle it is high (valid or not: the counters restart, and only a transferred vector
        runs); the upstream holds its result in its own output register until then."""
        plan = self.plan
        total = plan.nf * plan.sf
        vector_bits = plan.in_port.bits
        tile_bits = plan.simd * plan.code_bits

        next_vector = Signal(vector_bits, reset_less=True)
        next_full = Signal()
        # ~next_full as a register of its own computed a cycle ahead (low for a cycle after
        # reset): the buffer's clock enables then read a flip-flop, not an inverter (an
        # iCE40 flip-flop cannot start at 1, so a register reset to 1 would be stored
        # inverted)
        accept = Signal(name="accept")
        work = Signal(vector_bits, reset_less=True)   # tile sf in the low tile_bits
        run = Signal()
        # the word address counts on in the register the weight ROM reads (no reset: a loaded
        # vector restarts it), so its increment sits by its own flip-flops
        waddr = Signal(range(total), name="weight_addr", reset_less=True)
        sf, nf = Signal(range(plan.sf)), Signal(range(plan.nf))
        at_end = Signal(init=total == 1)               # waddr == total - 1
        near_end = Signal(init=total == 2)             # waddr == total - 2
        wrap = Signal(init=plan.sf == 1)               # sf == plan.sf - 1
        n_run, n_at_end, n_near_end, n_wrap = Signal(), Signal(), Signal(), Signal()
        n_waddr = Signal.like(waddr)
        n_sf, n_nf = Signal.like(sf), Signal.like(nf)
        if plan.single_buffer:
            # the working vector and the counters load on ready, a flip-flop; a vector starts
            # when one is transferred
            load = Signal(name="ready")
            m.d.comb += self.i.ready.eq(load)
            source, started, start = self.i.payload, self.i.valid, load & self.i.valid
            m.d.sync += load.eq(next_enable & Mux(enable, ~n_run | n_at_end, ~run | at_end))
        else:
            # load the next vector this cycle: next_full & (~run | at_end), as a register
            # computed a cycle ahead from the next values of those registers (its fan-out,
            # the working vector's load multiplexer, then starts at a flip-flop); a loaded
            # vector always starts
            load = Signal(name="load")
            source, started, start = next_vector, 1, load
            ready = accept if total > 1 else ~next_full
            if total == 1:
                ready = ready | (load & enable)
            m.d.comb += self.i.ready.eq(ready)
            taken = self.i.valid & self.i.ready
            # the buffer copies the payload on every cycle it is empty (valid or not: only a
            # taken one is kept), so its 100-odd clock enables read a register, not the
            # upstream valid
            with m.If(accept if total > 1 else taken):
                m.d.sync += next_vector.eq(self.i.payload)
            full_next = Mux(taken, 1, Mux(load & enable, 0, next_full))
            m.d.sync += next_full.eq(full_next)
            if total > 1:
                m.d.sync += accept.eq(~full_next)
            if total == 1:      # every cycle ends a vector: load whenever the buffer is full
                m.d.sync += load.eq(self.i.valid | (next_full & ~(load & enable)))
            else:       # the same, simplified to two 4-input functions and their AND
                m.d.sync += load.eq((taken | next_full) & ~(enable & load)
                                    & (~run | at_end | (enable & near_end)))

        # the counters advance: run & ~at_end (a register computed a cycle ahead: it drives
        # every counter bit)
        going = Signal(name="going")
        if total == 1:
            m.d.comb += going.eq(0)
        else:
            m.d.sync += going.eq(Mux(enable, start | (going & ~near_end), going))

        # run and the end tests follow the issue; the counters restart on load and otherwise
        # count on, also when idle (nothing reads them then): their only control is load, a
        # flip-flop, which synthesis puts on the registers' synchronous reset
        m.d.comb += [n_at_end.eq(total == 1), n_near_end.eq(total == 2)]
        with m.If(load):
            m.d.comb += n_run.eq(started)
        with m.Elif(going):
            m.d.comb += [n_run.eq(1), n_at_end.eq(near_end),
                         n_near_end.eq(waddr == total - 3 if total > 2 else 0)]
        m.d.comb += [n_waddr.eq(Mux(load, 0, waddr + 1)),
                     n_sf.eq(Mux(load | wrap, 0, sf + 1)),
                     n_nf.eq(Mux(load, 0, Mux(wrap, nf + 1, nf))),
                     n_wrap.eq(Mux(load | wrap, plan.sf == 1,
                                   sf == plan.sf - 2 if plan.sf > 1 else 0))]
        with m.If(enable):
            m.d.sync += [run.eq(n_run), waddr.eq(n_waddr), sf.eq(n_sf), nf.eq(n_nf),
                         at_end.eq(n_at_end), near_end.eq(n_near_end), wrap.eq(n_wrap)]
            with m.If(load):
                m.d.sync += work.eq(source)
            with m.Else():
                m.d.sync += work.eq(work.rotate_right(tile_bits))
        return (run, sf, nf, wrap, waddr), work

    # -- the weight ROM ----------------------------------------------------------------------

    def _weight_rom(self, m, enable, weight_addr):
        """The weight ROM, read at the word address ``weight_addr`` (the controller's counter,
        a register), its word registered once more (off the block RAM's slow output) and, in
        block RAM (``plan.weight_in_block_ram``), once more in the fabric (the route from the
        RAM, often across the die, then has a cycle of its own): the word is ready two (three)
        cycles after the issue, so the tile and the tags wait for it. A small ROM
        (``plan.weight_chunks``) is built in logic in three steps, each registered: pieces of
        ``WEIGHT_PIECE`` words by the low address bits (a 4-input function a bit), the
        ``WEIGHT_CHUNK``-word chunk from its pieces by the next two bits, then the chunk by
        the high bits (three cycles). Returns the registered word."""
        plan = self.plan
        word = Signal(plan.weight_width, name="weight_word", reset_less=True)

        def read(register, select, values):
            """``register`` loads ``values[select]`` (and holds past the end)."""
            with m.If(enable), m.Switch(select):
                for a, value in enumerate(values):
                    with m.Case(a):
                        m.d.sync += register.eq(value)

        if plan.weight_chunks:
            words = plan.weight_words()
            piece_bits, low = WEIGHT_PIECE.bit_length() - 1, WEIGHT_CHUNK.bit_length() - 1
            middle = _held(m, enable, weight_addr[piece_bits:low], "weight_addr_middle")
            high = _held(m, enable, _held(m, enable, weight_addr[low:], "weight_addr_high"),
                         "weight_addr_high_q")
            chunks = []
            for c in range(plan.weight_chunks):
                pieces = []
                for q in range(0, min(WEIGHT_CHUNK, len(words) - c * WEIGHT_CHUNK),
                               WEIGHT_PIECE):
                    first = c * WEIGHT_CHUNK + q
                    piece = Signal(plan.weight_width, reset_less=True,
                                   name=f"weight_piece_{c}_{q // WEIGHT_PIECE}")
                    read(piece, weight_addr[:piece_bits], words[first:first + WEIGHT_PIECE])
                    pieces.append(piece)
                chunk = Signal(plan.weight_width, name=f"weight_chunk_{c}", reset_less=True)
                read(chunk, middle, pieces)
                chunks.append(chunk)
            read(word, high, chunks)
            return word
        styled = {} if plan.weight_style == "auto" else \
            {"attrs": {"rom_style": plan.weight_style}}
        m.submodules.weights = weights = Memory(
            shape=unsigned(plan.weight_width), depth=plan.weight_depth,
            init=plan.weight_words(), **styled)
        weight_port = weights.read_port(domain="sync")
        m.d.comb += [weight_port.addr.eq(weight_addr), weight_port.en.eq(enable)]
        with m.If(enable):
            m.d.sync += word.eq(weight_port.data)
        if plan.weight_in_block_ram:       # beside the fabric: the RAM's route a path alone
            return _held(m, enable, word, "weight_word_far")
        return word

    # -- the PE lanes ------------------------------------------------------------------------

    def _lanes(self, m, enable, tile, weight_word, tags, stage, history):
        """Per PE: the ``simd`` products, the adder tree over them (in lockstep), the
        accumulator (starting from the bias of its output, chosen a stage ahead). Returns the
        accumulators and the tags of a finished output tile."""
        plan = self.plan
        if plan.multiplies:
            leaves, stages = self._multiplied(m, enable, tile, weight_word)
        else:
            leaves, stages = self._looked_up(m, enable, tile, weight_word), 2
        for n in range(stages):
            tags = stage(tags, "products" if n == stages - 1 else f"lookup_{n}")

        def combine(left, right, level, j, p):
            node = Signal(shape_of(plan.tree_bounds[p][level][j]), name=f"sum_{p}_l{level}_{j}")
            m.d.comb += node.eq(left + right)
            return node

        def register(node, level, j, p):
            return _held(m, enable, node, f"sum_{p}_l{level}_{j}_q")

        def after(level):
            nonlocal tags
            tags = stage(tags, f"l{level}")

        roots = reduce_trees(
            leaves, plan.tree_depth, combine=combine, carry=lambda node, *_: node,
            register=register, after=after,
            registered=lambda level: plan.register_every and level % plan.register_every == 0)

        starts = [self._per_tile_ahead(
            m, enable, [plan.bias[n * plan.pe + p] for n in range(plan.nf)], history,
            f"bias_{p}") for p in range(plan.pe)]
        first = tags["first"]
        tags = stage(tags | {"done": tags["valid"] & tags["last_sf"] & tags["last_nf"]}, "acc")
        accs = [self._accumulate(m, enable, first, tags["first"], starts[p], roots[p],
                                 plan.acc_fields[p], f"acc_{p}")
                for p in range(plan.pe)]
        if plan.acc_split:
            tags = stage(tags, "acc_high")
        return accs, {"valid": tags["valid"] & tags["last_sf"], "nf": tags["nf"],
                      "last_nf": tags["last_nf"], "done": tags["done"]}

    def _accumulate(self, m, enable, first, first_q, start, term, field, name):
        """An accumulator of ``field``: ``acc = (start if first else acc) + term`` each
        enabled cycle (``first_q``: ``first`` a cycle later). With ``plan.acc_split`` the
        sum takes two cycles, modulo ``2**width`` (exact: every partial sum fits the field):
        the low part (:func:`~nomul.design.plans.acc_low_bits` bits) and its carry, then the
        high part with that carry and the high parts of ``start`` and ``term`` registered
        beside it; the value returned (the low part delayed to meet the high part) is the
        same sum a cycle later. Each cycle then holds one select and a half-length carry
        chain."""
        acc = Signal(shape_of(field), name=name, reset_less=not self.plan.acc_split)
        if not self.plan.acc_split:
            with m.If(enable):
                m.d.sync += acc.eq(Mux(first, start, acc) + term)
            return acc
        width = field.width
        low = acc_low_bits(width)

        def wide(value, label):
            """``value`` modulo ``2**width`` (sign- or zero-extended as it is)."""
            if isinstance(value, Const):
                return Const(value.value % (1 << width), width)
            extended = Signal(width, name=f"{name}_{label}")
            m.d.comb += extended.eq(value)
            return extended

        def high_part(value, extended, label):
            """``value``'s bits from ``low`` up, registered; no wider than ``value`` needs
            (the bits above it repeat its sign, restored when the part is added)."""
            if isinstance(value, Const):
                return Const(extended.value >> low, width - low)
            part = extended[low:low + max(1, min(width, len(value)) - low)]
            return _held(m, enable, part.as_signed() if value.shape().signed else part,
                         f"{name}_{label}_hi")

        lo = Signal(low, name=f"{name}_lo", reset_less=True)
        lo_sum = Signal(low + 1, name=f"{name}_lo_sum")
        start_w, term_w = wide(start, "start"), wide(term, "term")
        m.d.comb += lo_sum.eq(Mux(first, start_w[:low], lo) + term_w[:low])
        with m.If(enable):
            m.d.sync += lo.eq(lo_sum[:low])
        carry = _held(m, enable, lo_sum[low], f"{name}_carry")

        start_hi = high_part(start, start_w, "start")
        term_hi = high_part(term, term_w, "term")
        hi = Signal(width - low, name=f"{name}_hi", reset_less=True)
        with m.If(enable):
            m.d.sync += hi.eq(Mux(first_q, start_hi, hi) + term_hi + carry)
        m.d.comb += acc.eq(Cat(_held(m, enable, lo, f"{name}_lo_q"), hi))
        return acc

    def _looked_up(self, m, enable, tile, weight_word):
        """Per PE, the ``simd`` products of ``tile`` (the ``simd`` group codes, slot 0 in the
        low bits) with the weight word, registered twice (latency 2).

        In block RAM: one shared product-table memory with ``pe * simd`` read ports, each
        read registered again (synthesis moves a logic ROM's read register to its address
        side, so the second register is what keeps the lookup and the adders after it in
        separate cycles). In logic: per port, the two halves of the table by the address's
        top bit (the codeword's), each a function of one bit fewer, registered, then the
        half selected by that bit: a 6-input lookup on 4-input LUTs is two levels, then one,
        where one step of it is three."""
        plan = self.plan
        cb, kb = plan.code_bits, plan.codeword_bits
        words = plan.table_words()
        if plan.table_style == "logic":
            half = 1 << (cb + kb - 1)             # addresses past the table are never read
            words = list(words) + [0] * (2 * half - len(words))
            halves = [Memory(shape=shape_of(plan.term), depth=half, init=part,
                             attrs={"rom_style": "logic"})
                      for part in (words[:half], words[half:])]
            m.submodules.table_low, m.submodules.table_high = halves
        else:
            m.submodules.table = table = Memory(
                shape=shape_of(plan.term), depth=plan.table_depth, init=words,
                attrs={"rom_style": plan.table_style})
        leaves = []
        for p in range(plan.pe):
            lane = []
            for s in range(plan.simd):
                field = (p * plan.simd + s) * kb
                address = Cat(tile[s * cb:(s + 1) * cb], weight_word[field:field + kb])
                leaf = Signal(shape_of(plan.lane_bounds[p][s]), name=f"term_{p}_{s}",
                              reset_less=True)
                if plan.table_style == "logic":
                    reads = []
                    for memory in halves:
                        port = memory.read_port(domain="sync")
                        m.d.comb += [port.addr.eq(address[:-1]), port.en.eq(enable)]
                        reads.append(port.data)
                    top = _held(m, enable, address[-1], f"term_{p}_{s}_half")
                    value = Mux(top, reads[1], reads[0])
                else:
                    port = table.read_port(domain="sync")
                    m.d.comb += [port.addr.eq(address), port.en.eq(enable)]
                    value = port.data
                with m.If(enable):
                    m.d.sync += leaf.eq(value)         # within the lane's bounds: exact
                lane.append(leaf)
            leaves.append(lane)
        return leaves

    def _multiplied(self, m, enable, tile, weight_word):
        """The multiplier baselines' leaves: per PE, the ``simd`` products
        ``index * weight``, registered. The integer baseline's word holds the weights
        (latency 1); the codebook baseline's holds codeword indices, and each lane first
        reads its weight from a ``K``-entry codebook ROM (registered: latency 2). Returns the
        leaves and their latency."""
        plan = self.plan
        cb = plan.code_bits
        bits = plan.codeword_bits if plan.codebook_rom else plan.weight_field.width
        indices = tile
        if plan.codebook_rom:
            m.submodules.codebook = codebook = Memory(
                shape=shape_of(plan.weight_field), depth=len(plan.weights),
                init=plan.weights, attrs={"rom_style": "logic"})
            indices = Signal.like(tile, name="tile_codes_w", reset_less=True)
            with m.If(enable):
                m.d.sync += indices.eq(tile)
        leaves = []
        for p in range(plan.pe):
            lane = []
            for s in range(plan.simd):
                field = (p * plan.simd + s) * bits
                if plan.codebook_rom:
                    port = codebook.read_port(domain="sync")
                    m.d.comb += [port.addr.eq(weight_word[field:field + bits]),
                                 port.en.eq(enable)]
                    weight = port.data
                else:
                    weight = weight_word[field:field + bits].as_signed()
                index = indices[s * cb:(s + 1) * cb].as_unsigned()
                leaf = Signal(shape_of(plan.lane_bounds[p][s]), name=f"product_{p}_{s}",
                              reset_less=True)
                with m.If(enable):
                    m.d.sync += leaf.eq(index * weight)
                lane.append(leaf)
            leaves.append(lane)
        return leaves, 2 if plan.codebook_rom else 1

    # -- the result --------------------------------------------------------------------------

    def _per_tile(self, m, values, nf, name):
        """A constant chosen by the output-tile number ``nf``: a Const, or a mux of constants."""
        if len(set(values)) == 1:
            return Const(values[0], shape_of(Bounds.of(values)))
        chosen = Signal(shape_of(Bounds.of(values)), name=name)
        with m.Switch(nf):
            for n, value in enumerate(values):
                with m.Case(n):
                    m.d.comb += chosen.eq(value)
        return chosen

    def _per_tile_ahead(self, m, enable, values, history, name):
        """A constant chosen by the output tile of ``history[-1]`` (the latest registered
        stage), as a register aligned with it: chosen from the tags of the stages before
        (``history[-2]``; with more than 16 tiles in two steps, a 16-entry chunk by the low
        four bits of ``history[-3]``'s tile, then the chunk by the high bits), so no more
        than a 4-input function and a small mux lie between registers."""
        if len(set(values)) == 1:
            return Const(values[0], shape_of(Bounds.of(values)))
        shape = shape_of(Bounds.of(values))

        def registered(value, label):
            return _held(m, enable, value, label, shape)

        if len(values) <= 16:
            return registered(self._per_tile(m, values, history[-2]["nf"], name),
                              f"{name}_q")
        low = history[-3]["nf"][:4]
        chunks = [registered(self._per_tile(m, values[c:c + 16], low, f"{name}_c{c // 16}"),
                             f"{name}_c{c // 16}_q") for c in range(0, len(values), 16)]
        chosen = Signal(shape, name=name)
        with m.Switch(history[-2]["nf"][4:]):
            for c, chunk in enumerate(chunks):
                with m.Case(c):
                    m.d.comb += chosen.eq(chunk)
        return registered(chosen, f"{name}_q")

    def _collect(self, m, accs, tags, stage, history, enable, enabled):
        """Thresholds or raw: per-PE values into a shift register of the finished tiles
        (shifting on ``enabled(valid)``). Thresholds compare in halves in a stage of their own
        (the thresholds of the tile chosen a stage ahead), join in the next and, with more
        than one, count in a third."""
        plan = self.plan
        values = []
        if plan.kind != "raw":
            compares = []
            for p, acc in enumerate(accs):
                row = []
                for t in range(plan.activation.count):
                    threshold = self._per_tile_ahead(m, enable, plan.per_tile_thresholds(p, t),
                                                     history, f"threshold_{p}_{t}")
                    row.append(self._compared(m, enable, acc, threshold, f"compare_{p}_{t}"))
                compares.append(row)
            tags = stage(tags, "compare")
            compares = [[_held(m, enable, above, f"above_{p}_{t}") for t, above in enumerate(row)]
                        for p, row in enumerate(compares)]
            tags = stage(tags, "join")
        for p, acc in enumerate(accs):
            value = Signal(shape_of(plan.element), name=f"value_{p}")
            if plan.kind == "raw":
                m.d.comb += value.eq(acc)                  # final sums fit the accumulator
            else:
                m.d.comb += value.eq(sum(compares[p]))      # thermometer -> count
            values.append(value)
        if plan.kind != "raw" and plan.activation.count > 1:   # the count a stage of its own
            values = [_held(m, enable, v, f"count_{p}") for p, v in enumerate(values)]
            tags = stage(tags, "count")
        tile = Cat(*values)
        done = tags["done"]
        if plan.nf == 1:
            return done, tile
        # tiles 0 .. NF-2 shift in at the top; the last one completes the vector below them
        collected = Signal(len(tile) * (plan.nf - 1), name="collected", reset_less=True)
        with m.If(enabled(tags["valid"])):
            m.d.sync += collected.eq(Cat(collected[len(tile):], tile))
        return done, Cat(collected, tile)

    @staticmethod
    def _compared(m, enable, acc, threshold, name):
        """``acc >= threshold`` from the compare stage's registers: the compare in halves
        (:func:`~nomul.gateware.order.at_least_in_halves`), each registered, then joined by one
        LUT (for the join stage's register)."""
        parts = at_least_in_halves(acc, threshold)
        if len(parts) == 1:
            return _held(m, enable, parts[0], name)
        high_above, high_at_least, low_at_least = (
            _held(m, enable, part, f"{name}_{label}")
            for part, label in zip(parts, ("high_above", "high_at_least", "low_at_least")))
        return high_above | (high_at_least & low_at_least)

    def _argmax(self, m, enable, accs, tags, stage, loaded):
        """A compare-select tree over the PE lanes, then a running maximum over the tiles
        (``loaded``: each stage register's next value)."""
        plan = self.plan
        nodes = []
        for p, acc in enumerate(accs):
            value = Signal(shape_of(plan.final_bounds[p]), name=f"final_{p}")
            m.d.comb += value.eq(acc)                      # within its final bounds: exact
            nodes.append((plan.final_bounds[p], value, Signal(0, name=f"lane_{p}")))

        def after(level):
            nonlocal tags
            tags = stage(tags, f"max_l{level}")

        (bounds, tile_max, tile_index), _ = argmax_tree(
            m, nodes, plan.max_depth, enable=enable, after=after,
            registered=lambda level: plan.register_every and level % plan.register_every == 0)
        out_shape = layout_of(plan.out_port)
        base = self._per_tile(m, [n * plan.pe for n in range(plan.nf)], tags["nf"], "base")
        candidate = Signal(out_shape, name="candidate")
        m.d.comb += candidate.eq(base + tile_index)
        best = Signal(shape_of(union(plan.final_bounds)), name="best", reset_less=True)
        best_index = Signal(out_shape, name="best_index", reset_less=True)
        # the first output tile, a register beside the tile's: one LUT after the compare
        first_tile = Signal(name="first_tile", reset_less=True)
        with m.If(enable):
            m.d.sync += first_tile.eq(loaded[tags["nf"].name] == 0)
        if plan.sf == 1:                   # a tile every cycle: compare and update at once
            beats = Signal()                                         # ties keep the earlier
            m.d.comb += beats.eq(first_tile | greater(tile_max, best))
            with m.If(enable & tags["valid"] & beats):
                m.d.sync += [best.eq(tile_max), best_index.eq(candidate)]
            return tags["done"], Mux(beats, candidate, best_index)
        # a tile at most every other cycle: the comparison gets a stage of its own, in two
        # half-length compares joined by one LUT, and the running maximum takes its result a
        # cycle later, before the next tile compares
        first_q, high_greater, high_equal, low_greater = (
            _held(m, enable, v, f"{n}_decided") for v, n in zip(
                (first_tile, *greater_in_halves(tile_max, best)),
                ("first", "high_greater", "high_equal", "low_greater")))
        beats_q = first_q | high_greater | (high_equal & low_greater)
        value_q, index_q = (_held(m, enable, v, f"{n}_decided")
                            for v, n in ((tile_max, "value"), (candidate, "index")))
        tags = stage(tags, "decide")
        with m.If(enable & tags["valid"] & beats_q):
            m.d.sync += [best.eq(value_q), best_index.eq(index_q)]
        return tags["done"], Mux(beats_q, index_q, best_index)
