# SPDX-License-Identifier: MIT
"""Hypothesis strategies: random integer models of every layer kind, built from the spec."""

import math

import numpy as np
from hypothesis import strategies as st

from nomul.models.bounds import output_bounds
from nomul.models.spec import Activation, Conv, Dense, Flatten, InputSpec, IntegerModel, MaxPool

KINDS = ("mlp", "conv1d", "conv2d")


NEVER, ALWAYS = 1 << 61, -(1 << 61)     # thresholds no accumulator reaches / always meets


def _thresholds(rng, layer_bounds, out_levels, per_output):
    """Sorted thresholds spread over each output's reachable range (duplicates allowed);
    per output, some rows padded at the top with thresholds never met (fewer levels for that
    output) or at the bottom with ones always met."""
    rows = []
    for b in layer_bounds:
        row = np.sort(rng.integers(b.lo - 1, b.hi + 2, size=out_levels - 1))
        if per_output and rng.random() < 0.3:
            cut = int(rng.integers(0, out_levels))
            row[cut:] = NEVER
        elif per_output and rng.random() < 0.15:
            row[:int(rng.integers(1, out_levels))] = ALWAYS
        rows.append(row)
    if per_output:
        return np.array(rows)
    return rows[0]


def _weighted(draw, rng, cls, in_levels, fan_in, outputs, activation, *, padded_channels=None,
              **geometry):
    groups = [d for d in range(1, 4) if fan_in % d == 0 and in_levels ** d <= 256
              and (padded_channels is None or padded_channels % d == 0)]
    group = draw(st.sampled_from(groups))
    codewords = draw(st.integers(2, 6))
    bits = draw(st.integers(1, 20))
    table = rng.integers(-(1 << bits), (1 << bits) + 1, size=(in_levels ** group, codewords))
    weight_index = rng.integers(0, codewords, size=(outputs, fan_in // group))
    bias = rng.integers(-(1 << bits), (1 << bits) + 1, size=outputs)
    probe = cls(in_levels=in_levels, group=group, table=table, weight_index=weight_index,
                bias=bias, activation=Activation("raw"), **geometry)
    if activation == "thresholds":
        out_levels = draw(st.integers(2, 5))
        thresholds = _thresholds(rng, output_bounds(probe), out_levels, draw(st.booleans()))
        act = Activation("thresholds", thresholds)
    else:
        act = Activation(activation)
    return cls(in_levels=in_levels, group=group, table=table, weight_index=weight_index,
               bias=bias, activation=act, **geometry)


@st.composite
def integer_models(draw, kinds=KINDS):
    """A random, valid :class:`IntegerModel` of a drawn kind (small shapes)."""
    kind = draw(st.sampled_from(kinds))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    raw_min = draw(st.integers(-8, 3))
    raw_max = raw_min + draw(st.integers(1, 12))
    if draw(st.booleans()):
        levels = draw(st.integers(2, 5))
        per_feature = draw(st.booleans())        # one threshold row per input element
        quantizer = dict(quantizer="thresholds")
    else:
        quantizer = {}
    if kind == "mlp":
        shape = (draw(st.integers(1, 12)),)
    elif kind == "conv1d":
        shape = (draw(st.integers(1, 3)), draw(st.integers(3, 10)))
    else:
        shape = (draw(st.integers(1, 2)), draw(st.integers(3, 6)), draw(st.integers(3, 6)))
    if quantizer:
        rows = (int(np.prod(shape)),) if per_feature else ()
        quantizer["thresholds"] = np.sort(rng.integers(raw_min, raw_max + 2,
                                                       size=(*rows, levels - 1)), axis=-1)
    spec = InputSpec(shape=shape, raw_min=raw_min, raw_max=raw_max, **quantizer)
    levels, layers = spec.levels, []
    final = draw(st.sampled_from(["argmax", "raw", "thresholds"]))
    if kind == "mlp":
        width = shape[0]
        for _ in range(draw(st.integers(0, 2))):
            outputs = draw(st.integers(1, 8))
            layers.append(_weighted(draw, rng, Dense, levels, width, outputs, "thresholds"))
            levels, width = layers[-1].out_levels, outputs
        classes = draw(st.integers(2 if final == "argmax" else 1, 6))  # argmax needs 2 outputs
        layers.append(_weighted(draw, rng, Dense, levels, width, classes, final))
        return IntegerModel(input=spec, layers=tuple(layers))
    dims = len(shape) - 1
    size = min(shape[1:])
    k = draw(st.integers(1, min(3, size)))
    geometry = dict(kernel=(k,) * dims, stride=(draw(st.integers(1, 2)),) * dims,
                    padding=(draw(st.integers(0, k - 1)),) * dims)
    channels = draw(st.integers(1, 3))
    conv_last = draw(st.booleans())
    fan_in = shape[0] * k ** dims
    padded = shape[0] if any(geometry["padding"]) else None
    conv = _weighted(draw, rng, Conv, levels, fan_in, channels,
                     final if conv_last and final != "argmax" else
                     "raw" if conv_last else "thresholds", padded_channels=padded, **geometry)
    layers.append(conv)
    out_shape = conv.output_shape(shape)
    if conv_last:
        return IntegerModel(input=spec, layers=tuple(layers))
    levels = conv.out_levels
    pool = draw(st.integers(1, 2))
    if min(out_shape[1:]) >= pool and draw(st.booleans()):
        layers.append(MaxPool(kernel=(pool,) * dims, stride=(draw(st.integers(1, 2)),) * dims))
        out_shape = layers[-1].output_shape(out_shape)
    layers.append(Flatten())
    width = math.prod(out_shape)
    classes = draw(st.integers(2 if final == "argmax" else 1, 5))      # argmax needs 2 outputs
    layers.append(_weighted(draw, rng, Dense, levels, width, classes, final))
    return IntegerModel(input=spec, layers=tuple(layers))


def random_raw(model, rng, count):
    """``count`` raw samples uniformly over the model's input range."""
    spec = model.input
    return rng.integers(spec.raw_min, spec.raw_max + 1, size=(count, *spec.shape))
