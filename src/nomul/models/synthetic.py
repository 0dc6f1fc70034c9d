# SPDX-License-Identifier: MIT
"""Random fully discretized networks with fixed seeds (demo before training, and tests).

Weights come from a K-value codebook of random values, activations are uniform levels of a
bounded non-linearity, and the float network is exported with the rules of
:mod:`nomul.models.export` — so a synthetic model exercises the same path as a trained one.

The sizes a user types are checked before anything is allocated (:func:`check_options`): the
architecture by :func:`~nomul.models.arch.parse_arch`, the levels by :data:`MAX_LEVELS` and
``LIMITS.codewords``, the group (1 to 64, dividing every weighted layer's fan-in, tables within
:data:`MAX_TABLE_ENTRIES`) and the calibration by :data:`MAX_CALIBRATION_VALUES`; each is an
:class:`~nomul.errors.OptionsError` naming the option.
"""

import math
import operator

import numpy as np

from ..errors import OptionsError
from .arch import parse_arch
from .export import FloatNetwork, FloatWeighted, export
from .nonlinearity import uniform_levels
from .spec import LIMITS, Flatten, MaxPool

__all__ = ["random_float_network", "random_model", "check_options", "MAX_LEVELS",
           "MAX_GROUP", "MAX_TABLE_ENTRIES", "MAX_CALIBRATION_VALUES"]

MAX_LEVELS = 256                  # act_levels of a random model
MAX_GROUP = 64                    # as the spec allows
MAX_TABLE_ENTRIES = 1 << 22       # rows x codewords of one random layer's product table
MAX_CALIBRATION_VALUES = 1 << 25  # calibration samples x the largest per-sample array


def _integer(value, name, lo, hi):
    try:
        value = operator.index(value)
    except TypeError:
        raise OptionsError(f"{name}: must be an integer, not {value!r}") from None
    if isinstance(value, bool) or not lo <= value <= hi:
        raise OptionsError(f"{name}: must be {lo} to {hi}, not {value}")
    return value


def _weighted(plans):
    return [(f"layer {i} ({plan.kind})", plan) for i, plan in enumerate(plans)
            if plan.kind in ("dense", "conv")]


def check_options(plans, input_levels, *, act_levels, weight_levels, group):
    """Refuse random-model options that do not fit the planned layers, before any allocation.

    Parameters
    ----------
    plans : list of LayerPlan
        From :func:`~nomul.models.arch.parse_arch` (already within the spec's size limits).
    input_levels : int
        Levels of the input (the first layer's ``in_levels``).
    act_levels, weight_levels, group : int
        As for :func:`random_float_network`.

    Raises
    ------
    OptionsError
        Naming ``act_levels``, ``weight_levels`` or ``group``.
    """
    act_levels = _integer(act_levels, "act_levels", 2, MAX_LEVELS)
    weight_levels = _integer(weight_levels, "weight_levels", 2, LIMITS.codewords)
    group = _integer(group, "group", 1, MAX_GROUP)
    levels = input_levels
    for where, plan in _weighted(plans):
        if plan.fan_in % group:
            raise OptionsError(f"group: {group} does not divide the {plan.fan_in} inputs of "
                               f"{where}")
        channels = plan.in_shape[0]
        if plan.kind == "conv" and any(plan.padding) and group > 1 and channels % group:
            raise OptionsError(f"group: {group} does not divide the {channels} input channels "
                               f"of {where} (a padded convolution pads whole groups)")
        rows = levels ** group
        if rows > LIMITS.table_rows:
            shown = f" = {rows}" if rows < 10 ** 12 else ""
            raise OptionsError(f"group: {where} would need {levels}**{group}{shown} table rows, "
                               f"more than the limit {LIMITS.table_rows}")
        if rows * weight_levels > MAX_TABLE_ENTRIES:
            name = "group" if group > 1 else "weight_levels"
            raise OptionsError(f"{name}: {where} would need a table of {rows} rows x "
                               f"{weight_levels} codewords, more than the limit "
                               f"{MAX_TABLE_ENTRIES} entries of a random model")
        levels = act_levels
    return act_levels, weight_levels, group


def _check_calibration(plans, samples):
    """Refuse an architecture whose calibration arrays would not fit in memory."""
    samples = _integer(samples, "calibration_samples", 1, MAX_CALIBRATION_VALUES)
    for i, plan in enumerate(plans):
        per_sample = max(math.prod(plan.in_shape), math.prod(plan.out_shape))
        if plan.kind == "conv":
            positions = math.prod(plan.out_shape[1:])
            per_sample = max(per_sample, positions * max(plan.fan_in, plan.outputs))
        if samples * per_sample > MAX_CALIBRATION_VALUES:
            raise OptionsError(f"arch: layer {i} ({plan.kind}) needs {per_sample} values per "
                               f"calibration sample, {samples * per_sample} for {samples} "
                               f"samples, more than the limit {MAX_CALIBRATION_VALUES} of a "
                               f"random model")


def random_float_network(arch, input_spec, *, act_levels=4, weight_levels=8, group=1,
                         nonlinearity="hard_tanh", output="argmax", seed=0):
    """A :class:`FloatNetwork` with random codebooks, indices and biases.

    Weights are scaled by ``1.5/sqrt(fan_in)`` so that pre-activations spread over the
    non-linearity's range; input index ``i`` stands for ``2 i / (levels - 1) - 1`` (in -1..1).
    """
    plans = parse_arch(arch, input_spec.shape)
    act_levels, weight_levels, group = check_options(
        plans, input_spec.levels, act_levels=act_levels, weight_levels=weight_levels,
        group=group)
    rng = np.random.default_rng(_integer(seed, "seed", 0, 2 ** 63 - 2))
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
    _check_calibration(parse_arch(arch, input_spec.shape), calibration_samples)
    net = random_float_network(arch, input_spec, seed=seed, **options)
    rng = np.random.default_rng(seed + 1)
    calibration = rng.integers(input_spec.raw_min, input_spec.raw_max + 1,
                               size=(calibration_samples, *input_spec.shape))
    return export(net, calibration=calibration)
