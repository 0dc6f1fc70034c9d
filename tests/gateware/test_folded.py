# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""Folded (PE x SIMD) dense layers against the reference, under stalls, with measured timing.

Every dense layer of hypothesis-drawn MLPs and a hand-made grouped layer (d = 2, three input
levels) are run through :class:`~nomul.gateware.folded.FoldedDense` with random idle and stall
cycles and compared with :func:`nomul.models.reference.weighted` plus the activation; without
stalls the first result takes exactly ``latency`` cycles, later ones ``latency + ii - 2`` (they
wait in the input buffer, accepted the cycle after it empties; ``latency`` when ``ii == 1``
or with a single input buffer, which takes a vector when the engine starts it) and inputs are
accepted every ``ii = nf * sf`` cycles.
"""

import re

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Fragment, Value
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.strategies import integer_models, random_raw
from nomul.design import LayerOptions
from nomul.design.activation import activation_of
from nomul.design.lower import weighted_plan
from nomul.design.plans import BLOCK_THRESHOLD, FoldedPlan
from nomul.gateware.folded import FoldedDense
from nomul.gateware.network import component
from nomul.gateware.unrolled import UnrolledLayer
from nomul.models import reference
from nomul.models.spec import Activation, Dense
from nomul.numeric import index_width
from nomul.sim.streams import pack, run_stream, unpack


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _folded(layer, pe, simd, **options):
    """A :class:`FoldedDense` for a model :class:`Dense` layer (what the lowering passes)."""
    return FoldedDense(FoldedPlan(layer.table.tolist(), layer.weight_index.tolist(),
                                  layer.bias.tolist(), activation_of(layer, layer.out_channels),
                                  layer.in_levels, layer.group, pe, simd, **options))


def _expected(layer, indices):
    """The reference: accumulators, then the layer's activation, as lists."""
    acc = reference.weighted(indices, layer)
    kind = layer.activation.kind
    if kind == "thresholds":
        return reference.threshold_count(acc, layer.activation.thresholds).tolist()
    return (reference.argmax(acc) if kind == "argmax" else acc).tolist()


def _decode(dut, layer, words):
    kind = layer.activation.kind
    if kind == "argmax":
        return list(words)
    if kind == "raw":
        acc = dut.plan.acc
        return [unpack(w, acc.width, layer.out_channels, signed=acc.signed) for w in words]
    return [unpack(w, index_width(layer.out_levels), layer.out_channels) for w in words]


def _check(dut, layer, indices, *, idle=0.2, stall=0.2, seed=0):
    """Run ``indices`` through ``dut``; compare with the reference; check timing if unstalled."""
    words = [pack(x, index_width(layer.in_levels)) for x in indices]
    run = run_stream(dut, words, idle=idle, stall=stall, seed=seed)
    assert _decode(dut, layer, run.outputs) == _expected(layer, indices)
    if idle == stall == 0:
        assert dut.ii == dut.plan.nf * dut.plan.sf
        waited = dut.latency + dut.ii - 2 if dut.ii > 1 and not dut.plan.single_buffer \
            else dut.latency
        assert run.latencies == [dut.latency] + [waited] * (len(words) - 1)
        assert run.intervals[1:] == [dut.ii] * (len(words) - 2)
    return run


@st.composite
def _folding(draw, layer):
    return dict(pe=draw(st.sampled_from(_divisors(layer.out_channels))),
                simd=draw(st.sampled_from(_divisors(layer.n_groups))),
                register_every=draw(st.integers(0, 2)),
                table_style=draw(st.sampled_from(["auto", "logic", "block"])),
                weight_style=draw(st.sampled_from(["auto", "logic", "block"])),
                input_buffer=draw(st.sampled_from(["double", "single"])))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(kinds=("mlp",)), seed=st.integers(0, 1000), data=st.data())
def test_folded_dense_layers_match_the_reference_under_stalls(model, seed, data):
    raw = random_raw(model, np.random.default_rng(seed), 6)
    _, inputs, traces = reference.run(model, raw, trace=True)
    for position, (layer, trace) in enumerate(zip(model.layers, traces, strict=True)):
        folding = data.draw(_folding(layer), label=f"layer {position}")
        dut = _folded(layer, **folding)
        unrolled = component(weighted_plan(layer, model.shapes[position], LayerOptions()))
        assert isinstance(unrolled, UnrolledLayer)
        Fragment.get(unrolled, None)             # elaborated, so it is not reported unused
        # a drop-in replacement for the unrolled layer
        assert dut.i.payload.shape() == unrolled.i.payload.shape()
        assert dut.o.payload.shape() == unrolled.o.payload.shape()
        assert (dut.plan.acc, dut.plan.kind) == (unrolled.plan.acc, unrolled.plan.kind)
        _check(dut, layer, inputs, seed=seed)
        _check(dut, layer, inputs[:5], idle=0.0, stall=0.0)
        inputs = trace.out


def _grouped_layer(kind, *, levels=3, group=2, outputs=6, groups=4, codewords=5, seed=7):
    """A dense layer with d = 2 over three input levels (unreachable group codes) and, for
    thresholds, a different threshold row per output; small entries, so argmax ties happen."""
    rng = np.random.default_rng(seed)
    spread = 2 if kind == "argmax" else 60
    table = rng.integers(-spread, spread + 1, size=(levels ** group, codewords))
    weight_index = rng.integers(0, codewords, size=(outputs, groups))
    bias = rng.integers(-spread, spread + 1, size=outputs)
    if kind == "thresholds":
        activation = Activation("thresholds",
                                np.sort(rng.integers(-150, 150, size=(outputs, 3)), axis=1))
    else:
        activation = Activation(kind)
    return Dense(in_levels=levels, group=group, table=table, weight_index=weight_index,
                 bias=bias, activation=activation)


FOLDINGS = [(6, 4), (1, 1), (2, 2), (3, 1), (1, 4)]     # fully parallel, fully serial, mixed


@pytest.mark.parametrize("kind", ["thresholds", "argmax", "raw"])
@pytest.mark.parametrize("pe, simd", FOLDINGS)
def test_grouped_layer_every_activation_and_folding(kind, pe, simd):
    layer = _grouped_layer(kind)
    indices = np.random.default_rng(pe * 10 + simd).integers(0, 3, size=(12, 8))
    if kind == "argmax":                     # the tie rule is exercised, not just possible
        acc = reference.weighted(indices, layer)
        assert any(np.sum(row == row.max()) > 1 for row in acc)
    dut = _folded(layer, pe, simd)
    assert (dut.plan.nf, dut.plan.sf) == (6 // pe, 4 // simd)
    _check(dut, layer, indices, seed=pe + simd)
    _check(dut, layer, indices[:6], idle=0.0, stall=0.0)


@pytest.mark.parametrize("input_buffer", ["double", "single"])
@pytest.mark.parametrize("kind", ["thresholds", "argmax", "raw"])
@pytest.mark.parametrize("pe, simd, register_every, lt, la", [
    (6, 4, 1, 2, 3), (6, 4, 2, 1, 1), (6, 4, 0, 0, 0), (1, 1, 1, 0, 0), (2, 4, 2, 1, 0),
    (3, 2, 1, 1, 2)])
def test_latency_formula(kind, pe, simd, register_every, lt, la, input_buffer):
    """``latency = nf*sf + Lt + 7`` (``+ 3`` for three thresholds: compared in halves,
    joined, counted; ``+ La`` for argmax and 1 more when ``sf > 1``, ``- 1`` with a single
    input buffer when ``nf*sf > 1``): ``Lt`` registers in the SIMD adder trees, ``La`` in the
    PE argmax tree; measured without stalls."""
    layer = _grouped_layer(kind)
    dut = _folded(layer, pe, simd, register_every=register_every, input_buffer=input_buffer)
    extra = {"thresholds": 3, "argmax": la + (simd < 4), "raw": 0}[kind]
    cycles = (6 // pe) * (4 // simd)
    single = input_buffer == "single" and cycles > 1
    assert dut.plan.single_buffer == single
    assert dut.latency == cycles + lt + 7 + extra - single
    _check(dut, layer, np.random.default_rng(5).integers(0, 3, size=(4, 8)),
           idle=0.0, stall=0.0)


@pytest.mark.parametrize("kind", ["thresholds", "argmax", "raw"])
@pytest.mark.parametrize("spread, parts", [(60, 1), (3000, 2), (60000, 2)])
def test_wide_accumulators_add_in_two_parts(kind, spread, parts):
    """Entries up to ``spread``: 4 products and a bias span at most ``5 * spread``, so the
    accumulator is 10 bits at 60 (one part), 15 at 3 000 and 20 at 60 000 (two: wider than
    12, a cycle more), bit-exact under stalls, the first vector reaching 4 * spread + bias."""
    rng = np.random.default_rng(spread)
    layer = _grouped_layer(kind)
    table = rng.integers(-spread, spread + 1, size=layer.table.shape)
    table[0, 0] = spread
    activation = layer.activation
    if kind == "thresholds":
        activation = Activation("thresholds", np.sort(
            rng.integers(-2 * spread, 2 * spread, size=(6, 3)), axis=1))
    layer = Dense(in_levels=3, group=2, table=table, weight_index=np.zeros((6, 4), int),
                  bias=rng.integers(-spread, spread + 1, size=6), activation=activation)
    for pe, simd in [(1, 1), (2, 2)]:
        dut = _folded(layer, pe, simd)
        assert dut.plan.acc_split == parts - 1
        base = _folded(_grouped_layer(kind), pe, simd)      # the same shape, one part
        assert dut.latency == base.latency + parts - 1 - base.plan.acc_split
        indices = np.random.default_rng(3).integers(0, 3, size=(10, 8))
        indices[0] = 0                                      # every input at table row 0
        _check(dut, layer, indices, seed=spread + pe)
        _check(dut, layer, indices[:4], idle=0.0, stall=0.0)


def test_fully_parallel_layer_takes_one_vector_per_cycle():
    layer = _grouped_layer("raw")
    dut = _folded(layer, 6, 4, register_every=0)           # latency 1 + 0 + 7
    run = _check(dut, layer, np.random.default_rng(1).integers(0, 3, size=(10, 8)),
                 idle=0.0, stall=0.0)
    assert dut.ii == 1 and set(run.latencies) == {dut.latency} == {8}


def test_next_vector_is_computed_while_the_output_waits():
    """With ``o.ready`` held low, the second vector is computed behind the first result and
    both leave once ``o.ready`` rises: the second a cycle after the output register empties
    (the stall reads the engine's own registers only, never ``o.ready``)."""
    layer = _grouped_layer("raw")
    dut = _folded(layer, 2, 2)                                     # ii = 6
    indices = np.random.default_rng(2).integers(0, 3, size=(2, 8))
    taken = []

    async def bench(ctx):
        for x in indices:
            ctx.set(Value.cast(dut.i.payload), pack(x, index_width(layer.in_levels)))
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        await ctx.tick().repeat(dut.latency + 2 * dut.ii + 5)     # both done by now
        ctx.set(dut.o.ready, 1)
        for cycle in range(4):
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid,
                                                           Value.cast(dut.o.payload))
            if valid:
                taken.append((cycle, payload))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert [cycle for cycle, _ in taken] == [0, 2]
    assert _decode(dut, layer, [word for _, word in taken]) == _expected(layer, indices)


@pytest.mark.parametrize("pe, simd, message", [
    (4, 1, "pe 4 does not divide the 6 outputs"),
    (1, 3, "simd 3 does not divide the 4 input groups"),
    (0, 1, "pe must be >= 1"),
])
def test_bad_folding_is_rejected(pe, simd, message):
    with pytest.raises(ValueError, match=message):
        _folded(_grouped_layer("raw"), pe, simd)


def test_the_component_needs_a_folded_plan():
    with pytest.raises(TypeError, match="FoldedPlan"):
        FoldedDense(_grouped_layer("raw"))


def test_bad_table_style_is_rejected():
    with pytest.raises(ValueError, match="table_style 'bram'"):
        _folded(_grouped_layer("raw"), 1, 1, table_style="bram")


def _cells_and_attributes(dut):
    text = rtlil.convert(dut)
    return set(re.findall(r"cell \\?(\$\w+)", text)), re.findall(r'rom_style "(\w+)"', text)


@pytest.mark.parametrize("style", ["logic", "block"])
def test_table_style_and_no_multiplier(style):
    dut = _folded(_grouped_layer("argmax"), 2, 2, table_style=style)
    cells, styles = _cells_and_attributes(dut)
    # block RAM: one shared product-table memory; logic: the table's two halves (by the top
    # address bit), each read by every port
    assert styles == ([style] if style == "block" else [style, style])
    assert not cells & {"$mul", "$macc", "$div", "$mod", "$shift", "$shiftx"}


def test_auto_table_style_follows_table_size():
    small = _grouped_layer("raw")                                  # 9 rows x 5 codewords
    assert _folded(small, 1, 1).plan.table_style == "logic"
    big = _grouped_layer("raw", levels=8, group=3, outputs=2, groups=2, codewords=2)
    assert 8 ** 3 * 2 >= BLOCK_THRESHOLD
    dut = _folded(big, 1, 2)
    assert dut.plan.table_style == "block" and _cells_and_attributes(dut)[1] == ["block"]
    indices = np.random.default_rng(3).integers(0, 8, size=(6, 6))
    _check(dut, big, indices)


@pytest.mark.parametrize("kind", ["thresholds", "argmax"])
def test_more_than_sixteen_tiles_choose_biases_and_thresholds_in_two_steps(kind):
    """40 outputs on one PE: 40 output tiles, so each bias and threshold is chosen from a
    16-tile chunk, then by chunk (``_per_tile_ahead``); every tile is compared."""
    rng = np.random.default_rng(11)
    table = rng.integers(-9, 10, size=(3, 4))
    index = rng.integers(0, 4, size=(40, 5))
    activation = Activation("argmax") if kind == "argmax" else \
        Activation("thresholds", np.sort(rng.integers(-15, 16, size=(40, 2)), axis=1))
    layer = Dense(in_levels=3, group=1, table=table, weight_index=index,
                  bias=rng.integers(-20, 21, size=40), activation=activation)
    dut = _folded(layer, 1, 1)
    assert dut.plan.nf == 40
    inputs = rng.integers(0, 3, size=(6, 5))
    _check(dut, layer, inputs, seed=4)
    _check(dut, layer, inputs[:3], idle=0.0, stall=0.0)


def _long_weight_rom_layer(outputs=40, groups=5, seed=11):
    """A thresholds layer of ``outputs x groups`` weights: at PE 1 x SIMD 1 a weight ROM of
    ``outputs * groups`` words of 2 bits (40 x 5: 200 words, 400 bits)."""
    rng = np.random.default_rng(seed)
    return Dense(in_levels=3, group=1, table=rng.integers(-9, 10, size=(3, 4)),
                 weight_index=rng.integers(0, 4, size=(outputs, groups)),
                 bias=rng.integers(-20, 21, size=outputs),
                 activation=Activation("thresholds",
                                       np.sort(rng.integers(-15, 16, size=(outputs, 2)), axis=1)))


@pytest.mark.parametrize("style, chunks, rom_styles", [
    ("auto", 4, []), ("logic", 4, []), ("block", 0, ["block"])])
def test_weight_style_places_the_weight_rom_and_keeps_the_function(style, chunks, rom_styles):
    """A 200-word weight ROM: in 64-word chunks of logic (auto, logic) or one block-RAM
    memory (block); bit-exact under stalls either way, with the same latency: a cycle more
    than a ROM of one chunk (the chunk's step, or the block RAM's fabric register)."""
    layer = _long_weight_rom_layer()
    dut = _folded(layer, 1, 1, weight_style=style)
    assert dut.plan.weight_chunks == chunks
    # the product table is in logic (two halves, no attribute but rom_style "logic")
    assert [s for s in _cells_and_attributes(dut)[1] if s != "logic"] == rom_styles
    assert dut.plan.weight_in_block_ram == (style == "block")
    small = _folded(_long_weight_rom_layer(outputs=8), 1, 1)      # 40 words: no chunks
    assert small.plan.weight_chunks == 0 and not small.plan.weight_in_block_ram
    assert dut.latency - dut.ii == small.latency - small.ii + 1
    inputs = np.random.default_rng(5).integers(0, 3, size=(5, 5))
    _check(dut, layer, inputs, seed=2)
    _check(dut, layer, inputs[:3], idle=0.0, stall=0.0)


def test_weight_style_logic_chunks_a_rom_auto_leaves_to_synthesis():
    layer = _long_weight_rom_layer(outputs=128, groups=4)      # 512 words x 2 bits
    auto, logic = _folded(layer, 1, 1), _folded(layer, 1, 1, weight_style="logic")
    assert auto.plan.weight_chunks == 0 and logic.plan.weight_chunks == 8
    # one memory past a chunk (block RAM): its word gets a fabric register, as many cycles
    # as the chunks' three steps
    assert auto.plan.weight_in_block_ram and not logic.plan.weight_in_block_ram
    assert auto.latency == logic.latency


def test_bad_weight_style_is_rejected():
    with pytest.raises(ValueError, match="weight_style 'bram'"):
        _folded(_grouped_layer("raw"), 1, 1, weight_style="bram")
