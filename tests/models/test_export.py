# SPDX-License-Identifier: MIT
"""Export rules: round half up, ceil thresholds, little-endian group addresses, F selection."""

import numpy as np
import pytest

from helpers import digits_input_spec
from nomul.errors import ModelError
from nomul.models import reference
from nomul.models.export import FloatNetwork, FloatWeighted, export, float_forward
from nomul.models.spec import InputSpec
from nomul.models.synthetic import random_float_network


def _one_layer(codebook, bias, activation="raw", out_values=None, in_values=(-1.5, 0.5, 1),
               index=((0, 1),), scale=1.0):
    """A network whose first layer is under test; a thresholds layer gets an argmax after it."""
    codebook = np.array(codebook, dtype=float)
    group = 1 if codebook.ndim == 1 else codebook.shape[1]
    spec = InputSpec(shape=(len(index[0]) * group,), raw_min=0, raw_max=len(in_values) - 1)
    layers = [FloatWeighted(codebook=codebook, weight_index=np.array(index),
                            bias=np.array(bias, dtype=float), activation=activation,
                            out_values=out_values, scale=scale)]
    if out_values is not None:
        layers.append(FloatWeighted(codebook=np.array([1.0, -1.0]),
                                    weight_index=np.zeros((2, len(index)), dtype=int),
                                    bias=np.zeros(2), activation="argmax"))
    return FloatNetwork(input=spec, input_values=np.array(in_values), layers=tuple(layers))


def test_table_and_bias_round_half_up():
    net = _one_layer(codebook=[0.5, -1.0], bias=[-0.25], in_values=(-1.5, 0.5, 1.0))
    model = export(net, frac_bits=0)
    layer = model.layers[0]
    # products v*c: -0.75, 0.25, 0.5 (c=0.5) and 1.5, -0.5, -1.0 (c=-1); floor(x + 1/2)
    assert layer.table.tolist() == [[-1, 2], [0, 0], [1, -1]]
    assert layer.bias.tolist() == [0]                      # floor(-0.25 + 0.5) = 0
    model = export(net, frac_bits=1)
    assert model.layers[0].table.tolist() == [[-1, 3], [1, -1], [1, -2]]
    assert model.layers[0].bias.tolist() == [0]            # floor(-0.5 + 0.5) = 0


def test_thresholds_are_the_ceiling_of_the_scaled_boundaries():
    out_values = np.array([-1.0, -0.2, 0.6, 1.0])          # midpoints -0.6, 0.2, 0.8
    net = _one_layer(codebook=[0.5, -1.0], bias=[0.0], activation="hard_tanh",
                     out_values=out_values, scale=0.5)
    # boundaries in pre-activation units divide by the scale: -1.2, 0.4, 1.6
    fixed = export(FloatNetwork(net.input, net.input_values, net.layers), frac_bits=2)
    assert fixed.layers[0].activation.thresholds.tolist() == [-4, 2, 7]   # ceil(x * 4)


def test_per_output_scale_gives_per_output_thresholds():
    net = _one_layer(codebook=[0.5, -1.0], bias=[0.0, 0.0], activation="clipped_relu",
                     out_values=np.array([0.0, 0.5, 1.0]), index=((0, 1), (1, 1)),
                     scale=np.array([1.0, 2.0]))
    thresholds = export(net, frac_bits=3).layers[0].activation.thresholds
    # midpoints 0.25 and 0.75: output 0 -> 2, 6 ; output 1 (scale 2) -> 1, 3
    assert thresholds.tolist() == [[2, 6], [1, 3]]


def test_product_quantization_addresses_are_little_endian():
    codebook = [[1.0, 10.0], [0.0, 0.0]]                    # K=2 codewords of d=2
    net = _one_layer(codebook=codebook, bias=[0.0], index=((0,),), in_values=(0.0, 1.0, 2.0))
    table = export(net, frac_bits=0).layers[0].table
    # address = i0 + 3*i1; product with codeword 0 = i0*1 + i1*10
    for i0 in range(3):
        for i1 in range(3):
            assert table[i0 + 3 * i1, 0] == i0 + 10 * i1


def test_chosen_f_is_the_smallest_meeting_the_target():
    net = random_float_network("64-32-16-10", digits_input_spec(), act_levels=4,
                               weight_levels=8, seed=2)
    calibration = np.random.default_rng(0).integers(0, 17, size=(300, 64))
    model = export(net, calibration=calibration, agreement=0.99)
    traces = float_forward(net, calibration, trace=True)
    for layer, (x, _z, out_float) in zip(model.layers, traces, strict=True):
        bits = layer.meta["frac_bits"]
        assert layer.meta["calibration_agreement"] >= 0.99
        if bits > 0:   # one bit fewer must miss the target (that is why it was not chosen)
            position = [i for i, lay in enumerate(model.layers) if lay is layer][0]
            smaller = export(net, frac_bits=[lay.meta["frac_bits"] - (i == position)
                                             for i, lay in enumerate(model.layers)])
            acc = reference.weighted(x, smaller.layers[position])
            act = smaller.layers[position].activation
            out = (reference.argmax(acc) if act.kind == "argmax"
                   else reference.threshold_count(acc, act.thresholds))
            assert np.mean(out == out_float) < 0.99


def test_entry_bit_budget_caps_f():
    net = random_float_network("64-16-10", digits_input_spec(), seed=4)
    calibration = np.random.default_rng(0).integers(0, 17, size=(100, 64))
    model = export(net, calibration=calibration, agreement=1.0, max_entry_bits=5)
    for layer in model.layers:      # 5-bit two's complement: -16..15
        assert -16 <= int(layer.table.min()) and int(layer.table.max()) <= 15
        assert layer.meta["frac_bits"] > 0


def test_export_needs_calibration_or_fixed_f():
    net = random_float_network("64-4-3", digits_input_spec(), seed=1)
    with pytest.raises(ModelError, match="calibration"):
        export(net)
    with pytest.raises(ModelError, match="frac_bits"):
        export(net, frac_bits=[3])
