# SPDX-License-Identifier: MIT
"""Random fully discretized networks with fixed seeds (demo before training, and tests).

Weights come from a K-value codebook of random values, activations are uniform levels of a
bounded non-linearity, and the float network is exported with the rules of
:mod:`nomul.models.export` — so a synthetic model exercises the same path as a trained one.
"""

import numpy as np

from .arch import parse_arch
from .export import FloatNetwork, FloatWeighted, export
from .nonlinearity import uniform_levels
from .spec import Flatten, InputSpec, MaxPool

__all__ = ["random_float_network", "random_model"]


def random_float_network(arch, input_spec, *, act_levels=4, weight_levels=8, group=1,
                         nonlinearity="hard_tanh", output="argmax", seed=0):
    """A :class:`FloatNetwork` with random codebooks, indices and biases.

    Weights are scaled by ``1.5/sqrt(fan_in)`` so that pre-activations spread over the
    non-linearity's range; input index ``i`` stands for ``2 i / (levels - 1) - 1`` (in -1..1).
    """
    rng = np.random.default_rng(seed)
    plans = parse_arch(arch, input_spec.shape)
    values = 2.0 * np.arange(input_spec.levels) / max(1, input_spec.levels - 1) - 1.0
    out_values = uniform_levels(nonlinearity, act_levels)
    layers = []
    for position, plan in enumerate(plans):
        if plan.kind == "flatten":
            layers.append(Flatten())
        elif plan.kind == "maxpool":
            layers.append(MaxPool(kernel=plan.kernel, stride=plan.stride))
        else:
            last = position == len(plans) - 1
            spread = 1.5 / np.sqrt(plan.fan_in)
            codebook = np.sort(rng.normal(0.0, spread, size=(weight_levels, group)), axis=0)
            if group == 1:
                codebook = codebook[:, 0]
            index = rng.integers(0, weight_levels, size=(plan.outputs, plan.fan_in // group))
            conv = plan.kind == "conv"
            layers.append(FloatWeighted(
                codebook=codebook, weight_index=index,
                bias=rng.normal(0.0, 0.1, size=plan.outputs),
                activation=output if last else nonlinearity,
                out_values=None if last else out_values,
                kernel=plan.kernel if conv else None, stride=plan.stride if conv else None,
                padding=plan.padding if conv else None))
    return FloatNetwork(input=input_spec, input_values=values, layers=tuple(layers),
                        meta={"recipe": "random", "seed": int(seed)})


def random_model(arch, input_spec, *, calibration_samples=256, seed=0, **options):
    """Export :func:`random_float_network` with F chosen on random calibration samples."""
    net = random_float_network(arch, input_spec, seed=seed, **options)
    rng = np.random.default_rng(seed + 1)
    calibration = rng.integers(input_spec.raw_min, input_spec.raw_max + 1,
                               size=(calibration_samples, *input_spec.shape))
    return export(net, calibration=calibration)


def digits_input_spec():
    """The 8x8 digits input: 64 pixels 0..16, identity quantizer."""
    return InputSpec(shape=(64,), raw_min=0, raw_max=16)
