# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""Every gateware component's emitted Verilog under cocotb (Verilator and Icarus).

Each case builds one component, feeds it vectors whose answers come from the reference (or a
plain Python sum for the adder tree), and checks the Verilog's outputs word for word under
random idle cycles and back-pressure; an unstalled run then measures its latency (first item,
idle pipeline) and II against the component's stated ``latency`` and ``ii``.

The layers are taken from two random models, so the vectors are the reference's own per-layer
inputs and outputs: a 2-D conv network ending in argmax and a 1-D conv network ending in raw
accumulators.
"""

import re
from functools import cache

import numpy as np
import pytest
from amaranth.hdl import Shape
from amaranth.lib import data

from nomul.design import BuildOptions, LayerOptions, lower
from nomul.design.kinds.maxpool import PoolPlan
from nomul.design.lower import weighted_plan
from nomul.design.plans import DeserializerPlan, LookupPlan, QuantizerPlan, WindowPlan
from nomul.design.ports import Field
from nomul.design.tables import dense_groups
from nomul.design.trees import ArgmaxPlan, ThresholdPlan, TreePlan
from nomul.gateware.adder_tree import AdderTree
from nomul.gateware.argmax import Argmax
from nomul.gateware.conv import FoldedConv
from nomul.gateware.folded import FoldedDense
from nomul.gateware.network import NetworkTop, component
from nomul.gateware.pool import MaxPool
from nomul.gateware.quantizer import InputQuantizer
from nomul.gateware.serdes import Deserializer
from nomul.gateware.tables import ProductLookup
from nomul.gateware.threshold import ThresholdBank
from nomul.gateware.unrolled import UnrolledLayer
from nomul.gateware.window import PatchStreamer
from nomul.models import reference
from nomul.models.spec import InputSpec
from nomul.models.synthetic import random_model
from nomul.numeric import index_width
from nomul.sim.hardware import simulate_component
from nomul.sim.streams import pack
from sim.test_cocotb import SIMULATORS

RNG_SEED = 5


def _word(layout, values):
    """One payload word of ``layout`` holding ``values`` (an ArrayLayout or a plain shape)."""
    values = np.asarray(values).ravel()
    if isinstance(layout, data.ArrayLayout):
        return pack(values, Shape.cast(layout.elem_shape).width)
    return pack(values, Shape.cast(layout).width)


def _words(port, rows):
    return [_word(port.payload.shape(), row) for row in rows]


@cache
def _models():
    conv2d = random_model("1x4x4-c2k3p1-m2-5-4", InputSpec(shape=(1, 4, 4), raw_min=0,
                                                            raw_max=9),
                          act_levels=3, weight_levels=4, seed=1)
    conv1d = random_model("1x10-c2k3s2p1-m2-3", InputSpec(shape=(1, 10), raw_min=-3, raw_max=4),
                          act_levels=3, weight_levels=4, output="raw", seed=2)
    return {"conv2d": conv2d, "conv1d": conv1d}


def _traced(name, samples=10):
    model = _models()[name]
    raw = np.random.default_rng(RNG_SEED).integers(model.input.raw_min, model.input.raw_max + 1,
                                                  size=(samples, *model.input.shape))
    _, inputs, traces = reference.run(model, raw, trace=True)
    per_layer_inputs = [inputs] + [t.out for t in traces[:-1]]
    return model, raw, per_layer_inputs, traces


def _layer_case(name, position, build):
    """A model layer built by ``build(layer, in_shape)``; vectors from the reference trace."""
    model, _, per_layer_inputs, traces = _traced(name)
    layer = model.layers[position]
    dut = build(layer, model.shapes[position])
    return dut, _words(dut.i, per_layer_inputs[position]), _words(dut.o, traces[position].out)


def _quantizer_case():
    model, raw, per_layer_inputs, _ = _traced("conv2d")
    spec = model.input
    dut = InputQuantizer(QuantizerPlan(spec.elements, spec.raw_min, spec.raw_max,
                                       spec.thresholds))
    return dut, _words(dut.i, raw), _words(dut.o, per_layer_inputs[0])


def _thresholds_quantizer_case(raw_min, raw_max, thresholds, style):
    """A thresholds quantizer of 5 samples; ``style`` says which form its table size gives."""
    spec = InputSpec(shape=(5,), raw_min=raw_min, raw_max=raw_max, quantizer="thresholds",
                     thresholds=thresholds)
    dut = InputQuantizer(QuantizerPlan(5, raw_min, raw_max, thresholds))
    assert dut.plan.style == style
    raw = np.random.default_rng(RNG_SEED).integers(raw_min, raw_max + 1, size=(12, 5))
    raw[0], raw[1] = raw_min, raw_max
    raw[2] = [t for t in thresholds if raw_min <= t <= raw_max][:5]     # exactly at thresholds
    return dut, _words(dut.i, raw), _words(dut.o, reference.quantize_input(spec, raw))


def _deserializer_case():
    model, raw, _, _ = _traced("conv1d")
    lanes = 3
    dut = Deserializer(DeserializerPlan(model.input.elements, lanes, Field(4)))
    flat = raw.reshape(len(raw), -1) & 0xF
    beats = [list(s) + [0] * (-len(s) % lanes) for s in flat]
    words = [pack(b[k:k + lanes], 4) for b in beats for k in range(0, len(b), lanes)]
    return dut, words, _words(dut.o, flat)


def _adder_tree_case():
    bounds = ((-40, 17), (0, 255), (-128, 127), (-3, 9), (5, 5), (-1000, 1000), (0, 1))
    dut = AdderTree(TreePlan(bounds, -77, 1))
    rng = np.random.default_rng(RNG_SEED)
    rows = [[lo if k % 3 == 0 else hi if k % 3 == 1 else int(rng.integers(lo, hi + 1))
             for lo, hi in bounds] for k in range(12)]
    return dut, _words(dut.i, rows), _words(dut.o, [[sum(r) - 77] for r in rows])


def _threshold_case(method):
    rng = np.random.default_rng(RNG_SEED)
    thresholds = tuple(tuple(int(t) for t in np.sort(rng.integers(-60, 60, size=7)))
                       for _ in range(3))
    dut = ThresholdBank(ThresholdPlan(thresholds, Field(8, signed=True), method))
    acc = rng.integers(-128, 128, size=(16, 3))
    acc[0] = [t[0] for t in thresholds]                      # exactly at thresholds
    acc[1] = [t[-1] - 1 for t in thresholds]
    expected = reference.threshold_count(acc, np.array(thresholds))
    return dut, _words(dut.i, acc), _words(dut.o, expected)


def _argmax_case():
    bounds = ((-20, 20),) * 5
    dut = Argmax(ArgmaxPlan(bounds, 1))
    acc = np.random.default_rng(RNG_SEED).integers(-3, 4, size=(20, 5))   # many ties
    return dut, _words(dut.i, acc), [int(c) for c in reference.argmax(acc)]


def _product_lookup_case():
    table = ((0, 3, -5), (2, -7, 11), (4, 1, 0))                  # 3 levels x 3 codewords
    pairs = ((0, 0), (0, 2), (1, 1), (2, 0), (2, 2), (3, 1))
    dut = ProductLookup(LookupPlan(table, dense_groups(4, 1), pairs, 3, 4))
    x = np.random.default_rng(RNG_SEED).integers(0, 3, size=(12, 4))
    expected = [[table[row[g]][k] for g, k in pairs] for row in x]
    return dut, _words(dut.i, x), _words(dut.o, expected)


def _patch_streamer_case():
    model, _, per_layer_inputs, _ = _traced("conv2d", samples=3)
    layer, x = model.layers[0], per_layer_inputs[0]
    dut = PatchStreamer(WindowPlan(model.shapes[0], layer.kernel, layer.stride, layer.padding,
                                   index_width(model.levels[0])))
    taps = reference.patches(x, layer.kernel, layer.stride, layer.padding)
    taps = taps.reshape(-1, dut.plan.patch_size)
    fields = dut.o.payload.shape()
    last = [int(p == dut.plan.positions - 1) for _ in x for p in range(dut.plan.positions)]
    expected = [(pack(np.where(t == reference.PADDED, 0, t), dut.plan.index_width)
                 << fields["taps"].offset)
                | (pack(t == reference.PADDED, 1) << fields["pad"].offset)
                | (end << fields["last"].offset) for t, end in zip(taps, last, strict=True)]
    return dut, _words(dut.i, x), expected


def _weighted(kind, options=None):
    """``build(layer, in_shape)`` making a weighted layer's component as ``options`` (default:
    unrolled) say, checked to be a ``kind``."""
    def build(layer, shape):
        dut = component(weighted_plan(layer, shape, options or LayerOptions()))
        assert isinstance(dut, kind), dut
        return dut
    return build


FOLDED = LayerOptions(arch="folded", pe=1, simd=3)
CASES = {
    "input_quantizer": _quantizer_case,
    "input_quantizer_lookup": lambda: _thresholds_quantizer_case(
        0, 16, [2, 5, 5, 9, 16, 17], "lookup"),
    "input_quantizer_compare": lambda: _thresholds_quantizer_case(
        -2048, 2047, [-3000, -900, -1, 0, 700, 2047], "compare"),
    "deserializer": _deserializer_case,
    "product_lookup": _product_lookup_case,
    "adder_tree": _adder_tree_case,
    "threshold_bank_parallel": lambda: _threshold_case("parallel"),
    "threshold_bank_search": lambda: _threshold_case("search"),
    "argmax": _argmax_case,
    "patch_streamer": _patch_streamer_case,
    "maxpool_2d": lambda: _layer_case("conv2d", 1, lambda layer, shape: MaxPool(
        PoolPlan(shape, layer.kernel, layer.stride, index_width(3)))),
    "unrolled_conv2d": lambda: _layer_case("conv2d", 0, _weighted(UnrolledLayer)),
    "unrolled_dense_argmax": lambda: _layer_case("conv2d", 4, _weighted(UnrolledLayer)),
    "unrolled_conv1d_raw": lambda: _layer_case("conv1d", 0, _weighted(UnrolledLayer)),
    "folded_conv2d": lambda: _layer_case("conv2d", 0, _weighted(FoldedConv, FOLDED)),
    "folded_dense": lambda: _layer_case("conv2d", 3, _weighted(FoldedDense, LayerOptions(
        arch="folded", pe=5, simd=4))),
    "folded_dense_raw": lambda: _layer_case("conv1d", 3, _weighted(FoldedDense, LayerOptions(
        arch="folded", pe=1, simd=2))),
}


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("component", sorted(CASES))
def test_component_verilog_matches_the_reference(component, simulator, tmp_path):
    dut, words, expected = CASES[component]()
    run_dir = tmp_path / "sim"

    def run(**stream):
        return simulate_component(dut, words, simulator=simulator, work_dir=run_dir,
                                  count=len(expected), **stream)

    stalled = run(idle=0.3, stall=0.3, seed=1)
    assert stalled.outputs == expected
    full = run()
    assert full.outputs == expected
    assert len(full.output_cycles) > 2
    # latency: from the last input transfer of the first item to its first output; ii: cycles
    # per item on the side with fewer transfers (a deserializer's outputs, a patch streamer's
    # inputs)
    per_item = max(1, len(words) // len(expected))
    assert full.output_cycles[0] - full.input_cycles[per_item - 1] == dut.latency
    fewer = full.output_cycles if len(expected) <= len(words) else full.input_cycles
    assert min(np.diff(fewer)) == dut.ii


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_the_network_stages_are_the_components_tested_here():
    """The stages a network is built from are all covered by CASES (guards against a new
    component kind reaching networks without a Verilog test)."""
    covered = {type(CASES[name]()[0]).__name__ for name in CASES}
    for model in _models().values():
        for options in (BuildOptions(input_lanes=3),
                        BuildOptions(default=LayerOptions(arch="folded"))):
            top = NetworkTop(lower(model, options))
            stages = {type(stage).__name__ for _, stage in top.stages}
            if options.input_lanes is not None:       # the deserializer is a stage too
                assert "Deserializer" in stages
            assert stages <= covered, stages - covered


@pytest.mark.slow
def test_the_fast_harness_compiles_yosys_netlist_of_the_emitted_verilog(tmp_path):
    """What Verilator compiles is ``NETLIST_SCRIPT``'s netlist, not the text as emitted: the
    quantizer's table of raw codes, ``always @*`` processes with a ``case`` each in the
    emitted text, is constant ROM arrays there, no ``always @*`` is left, and the harness
    still agrees word for word under back-pressure; the cache entry keeps both texts."""
    dut, inputs, expected = CASES["input_quantizer_lookup"]()
    cache_dir = tmp_path / "cache"
    run = simulate_component(dut, inputs, simulator="fast", work_dir=tmp_path / "w",
                             cache_dir=cache_dir, stall=0.3, seed=1)
    assert run.outputs == expected
    (entry,) = [e for e in cache_dir.iterdir() if e.is_dir()]
    emitted, netlist = ((entry / name).read_text() for name in ("top.v", "netlist.v"))
    rom = re.compile(r"^\s*reg \[\d+:0\] \S+\s+\[\d+:0\];", re.MULTILINE)
    assert "always @*" in emitted and not rom.search(emitted)
    assert "always @*" not in netlist and rom.search(netlist)
