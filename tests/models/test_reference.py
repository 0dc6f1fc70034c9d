# SPDX-License-Identifier: MIT
"""The bit-exact reference against first principles, against the float model, and its rules."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from helpers import digits_input_spec, naive
from helpers.strategies import integer_models, random_raw
from nomul.errors import ModelError
from nomul.models import reference
from nomul.models.export import FloatNetwork, FloatWeighted, export, float_forward
from nomul.models.spec import Activation, Dense, InputSpec, IntegerModel
from nomul.models.synthetic import random_float_network


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models())
def test_reference_matches_naive_loops_for_every_layer_kind(model):
    rng = np.random.default_rng(1)
    raw = random_raw(model, rng, 5)
    out, _, traces = reference.run(model, raw, trace=True)
    for b in range(raw.shape[0]):
        expected_out, expected_accs = naive.run_one(model, raw[b])
        assert np.array_equal(np.asarray(out[b], dtype=np.int64),
                              np.asarray(expected_out, dtype=np.int64))
        for trace, expected in zip(traces, expected_accs, strict=True):
            if expected is not None and trace.acc is not None:
                assert np.array_equal(trace.acc[b], np.asarray(expected, dtype=np.int64))


def test_threshold_ties_go_up():
    thresholds = np.array([0, 5, 5, 9])
    acc = np.array([[-1, 0, 4, 5, 8, 9, 10]])
    # by the rule count(acc >= t): -1->0, 0->1, 4->1, 5->3 (both fives met), 8->3, 9->4, 10->4
    assert reference.threshold_count(acc, thresholds).tolist() == [[0, 1, 1, 3, 3, 4, 4]]


def test_per_output_thresholds_use_their_own_row():
    thresholds = np.array([[0, 10], [-5, -5]])
    acc = np.array([[10, -5], [9, -6]])
    assert reference.threshold_count(acc, thresholds).tolist() == [[2, 2], [1, 0]]


def test_argmax_ties_go_to_the_lowest_index():
    acc = np.array([[3, 7, 7, 1], [5, 5, 5, 5], [-2, -1, -1, -3]])
    assert reference.argmax(acc).tolist() == [1, 0, 1]


def test_argmax_model_with_all_outputs_equal_picks_class_zero():
    table = np.array([[1, 1], [2, 2], [3, 3]])       # every codeword gives the same product
    layer = Dense(in_levels=3, group=1, table=table,
                  weight_index=np.array([[0, 1], [1, 0], [1, 1]]), bias=np.zeros(3, int),
                  activation=Activation("argmax"))
    model = IntegerModel(input=InputSpec(shape=(2,), raw_min=0, raw_max=2), layers=(layer,))
    assert reference.run(model, np.array([[0, 2], [1, 1], [2, 2]])).tolist() == [0, 0, 0]


def test_input_out_of_range_or_wrong_shape_is_refused():
    model = export(random_float_network("64-4-3", digits_input_spec(), seed=3), frac_bits=8)
    with pytest.raises(ModelError, match="raw range"):
        reference.run(model, np.full((1, 64), 17))
    with pytest.raises(ModelError, match="shape"):
        reference.run(model, np.zeros((1, 63), dtype=np.int64))


def test_per_feature_input_thresholds_count_each_elements_own_row():
    """(E, T) input thresholds: element e of a C-order flattened sample counts row e's
    thresholds met, checked against a plain per-element loop."""
    rows = np.array([[-5, 0, 5], [0, 0, 1], [-100, 90, 100], [2, 3, 4], [-1, 1, 3], [7, 8, 9]])
    spec = InputSpec(shape=(2, 3), raw_min=-100, raw_max=100, quantizer="thresholds",
                     thresholds=rows)
    raw = np.random.default_rng(4).integers(-100, 101, size=(40, 2, 3))
    raw[0] = [[-5, 0, 90], [2, 1, 7]]                       # samples on thresholds go up
    got = reference.quantize_input(spec, raw)
    flat = raw.reshape(40, 6)
    expected = [[sum(int(v) >= int(t) for t in rows[e]) for e, v in enumerate(sample)]
                for sample in flat]
    assert got.shape == raw.shape and got.reshape(40, 6).tolist() == expected
    assert got[0].tolist() == [[1, 2, 2], [1, 2, 1]]
    assert spec.levels == 4 and spec.per_feature


def _dyadic_network(arch, spec, seed, nonlinearity="hard_tanh"):
    """Codebooks, biases and levels that are multiples of powers of two: exact at modest F."""
    rng = np.random.default_rng(seed)
    net = random_float_network(arch, spec, act_levels=5, weight_levels=6,
                               nonlinearity=nonlinearity, seed=seed)
    layers = []
    for layer in net.layers:
        if isinstance(layer, FloatWeighted):
            codebook = np.round(np.asarray(layer.codebook) * 64) / 64
            codebook = codebook + np.arange(codebook.shape[0]).reshape(-1, *[1] *
                                                                       (codebook.ndim - 1)) / 64
            bias = rng.integers(-16, 17, size=len(layer.bias)) / 32
            layer = FloatWeighted(codebook=codebook, weight_index=layer.weight_index, bias=bias,
                                  activation=layer.activation, out_values=layer.out_values,
                                  kernel=layer.kernel, stride=layer.stride,
                                  padding=layer.padding)
        layers.append(layer)
    values = np.round(np.asarray(net.input_values) * 16) / 16
    return FloatNetwork(input=net.input, input_values=values, layers=tuple(layers))


@pytest.mark.parametrize("arch, shape, nonlinearity", [
    ("64-16-8-10", (64,), "hard_tanh"),
    ("64-12-10", (64,), "clipped_relu"),
    ("1x12-c4k3p1-m2-c3k3s2-6-5", (1, 12), "hard_tanh"),
    ("2x6x6-c3k3p1-m2-4", (2, 6, 6), "relu6"),
])
def test_reference_equals_float_model_exactly_with_dyadic_codebooks(arch, shape, nonlinearity):
    spec = InputSpec(shape=shape, raw_min=0, raw_max=16)
    net = _dyadic_network(arch, spec, seed=7, nonlinearity=nonlinearity)
    # values are multiples of 1/16 and 1/64 (products of 1/1024), biases of 1/32, level
    # midpoints of 1/8: at F = 10 every table entry, bias and threshold is exact.
    model = export(net, frac_bits=10)
    raw = np.random.default_rng(0).integers(0, 17, size=(300, *shape))
    floats = float_forward(net, raw, trace=True)
    _, _, traces = reference.run(model, raw, trace=True)
    for float_trace, int_trace in zip(floats, traces, strict=True):
        if float_trace is None:
            continue
        x, z, out = float_trace
        assert np.array_equal(int_trace.acc, np.round(z * 1024).astype(np.int64))
        assert np.array_equal(int_trace.out, out)


@pytest.mark.parametrize("arch, shape", [("64-64-32-10", (64,)),
                                         ("1x16-c4k5p2-m2-c6k3-8-10", (1, 16))])
def test_reference_agrees_with_float_model_at_large_f(arch, shape):
    spec = InputSpec(shape=shape, raw_min=0, raw_max=16)
    net = random_float_network(arch, spec, act_levels=4, weight_levels=8, seed=11)
    raw = np.random.default_rng(5).integers(0, 17, size=(450, *shape))
    expected = float_forward(net, raw)
    model = export(net, frac_bits=30)
    assert np.array_equal(reference.run(model, raw), expected)
    # and at a small F the rounding visibly changes results (the comparison is not vacuous)
    coarse = export(net, frac_bits=1)
    assert not np.array_equal(reference.run(coarse, raw), expected)
