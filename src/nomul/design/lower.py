# SPDX-License-Identifier: MIT
"""The one place where an integer model becomes hardware: ``lower(model, options) -> Design``.

Every option is checked here, once, before any plan is made: options that do not fit the
model (a SIMD that does not divide the input groups) and options that concern none of the
layers they are given for (``pe`` on an unrolled layer) are refused with an
:class:`~nomul.errors.OptionsError` naming the parameter and the layer.
"""

from dataclasses import replace

import numpy as np

from ..alloc import few_collections
from ..errors import OptionsError
from ..models import reference
from ..models.spec import Conv, Dense
from ..numeric import Bounds, index_width
from .activation import activation_of
from .design import Design
from .kinds import LOWERINGS
from .options import SCOPE, Arch, BuildOptions, LayerOptions, SumRegister, option_applies
from .plans import (
    CollectorPlan,
    DeserializerPlan,
    FoldedConvPlan,
    FoldedPlan,
    MacUnrolledPlan,
    QuantizerPlan,
    WindowPlan,
    table_style,
)
from .ports import field_of
from .tables import dense_groups, padded_table, slope_weights
from .unrolled import lower_unrolled

__all__ = ["lower", "model_sha256", "BASELINES", "layer_options", "connectivity",
           "grouped_connectivity", "weighted_plan", "baseline_model"]

# the multiplier baselines: "integer" stores each weight's integer value in the weight ROM;
# "codebook" stores the same codeword indices as nomul and reads the value from a K-entry
# codebook ROM in front of the multiplier (folded layers; unrolled, both are the same
# constant multiplications)
BASELINES = ("integer", "codebook")
MAX_GROUP_ROWS = 4096          # group_inputs: the largest grouped table (codes of g indices)


def _weighted(model):
    return [p for p, layer in enumerate(model.layers) if isinstance(layer, (Dense, Conv))]


def layer_options(model, options):
    """``{position: resolved LayerOptions}`` for every weighted layer, after checking that
    every given option concerns a layer it is given for and fits the model."""
    if not isinstance(options, BuildOptions):
        raise OptionsError(f"options must be BuildOptions, not {type(options).__name__}")
    weighted = _weighted(model)
    overrides = dict(options.layers)
    for position in overrides:
        if position not in weighted:
            kind = model.layers[position].kind if 0 <= position < len(model.layers) else None
            raise OptionsError(f"layer {position}" + (f" ({kind}) has no weights" if kind
                                                      else " does not exist")
                               + ": it takes no layer options")
    resolved, default_users = {}, []
    for position in weighted:
        given = options.for_layer(position)
        resolved[position] = given.resolved()
        if position not in overrides:
            default_users.append(position)
            continue
        layer, arch = model.layers[position], resolved[position].arch
        for name in given.given:
            if not option_applies(name, layer, arch):
                raise OptionsError(f"layer {position} ({layer.kind}, {arch}): {name} concerns "
                                   f"{SCOPE[name]} only")
    for name in options.default.given:
        if default_users and not any(
                option_applies(name, model.layers[p], resolved[p].arch) for p in default_users):
            raise OptionsError(f"{name} does not apply to this design: it concerns "
                               f"{SCOPE[name]}")
    for position, layer_opts in resolved.items():
        _check_fit(model.layers[position], position, layer_opts)
    if options.input_lanes is not None and options.input_lanes > model.input.elements:
        raise OptionsError(f"input_lanes {options.input_lanes} exceeds the "
                           f"{model.input.elements} input elements")
    return resolved


def _check_fit(layer, position, options):
    where = f"layer {position} ({layer.kind})"
    if options.arch == Arch.FOLDED:
        if layer.n_groups % options.simd:
            raise OptionsError(f"{where}: simd {options.simd} does not divide the "
                               f"{layer.n_groups} input groups")
        if layer.out_channels % options.pe:
            raise OptionsError(f"{where}: pe {options.pe} does not divide the "
                               f"{layer.out_channels} outputs")
        return
    g = options.group_inputs
    if g != "auto" and g > 1 and option_applies("group_inputs", layer, options.arch):
        codes = 1 << (g * index_width(layer.in_levels))
        if codes > MAX_GROUP_ROWS:
            raise OptionsError(f"{where}: group_inputs {g} makes tables of {codes} codes "
                               f"(limit {MAX_GROUP_ROWS})")


# -- connectivity of unrolled layers ----------------------------------------------------------

def connectivity(layer, in_shape):
    """``(groups, outputs)`` of a weighted layer for an :class:`~.plans.MacUnrolledPlan`.

    Dense: consecutive groups, output ``o`` uses ``(g, weight_index[o][g])`` for every g.
    Conv: the groups of every output position (element positions in the C-order input
    tensor; padded groups left out, as they contribute exactly 0), outputs in C order
    ``(channel, *position)``.
    """
    index = layer.weight_index
    if isinstance(layer, Dense):
        outputs = tuple(tuple((g, int(index[o, g])) for g in range(layer.n_groups))
                        for o in range(layer.out_channels))
        return dense_groups(layer.fan_in, layer.group), outputs
    elements = np.arange(int(np.prod(in_shape))).reshape(1, *in_shape)
    taps = reference.patches(elements, layer.kernel, layer.stride, layer.padding)[0]
    groups, number, per_position = [], {}, []
    for patch in taps:                                   # one output position
        terms = []
        for g in range(layer.n_groups):
            members = tuple(int(e) for e in patch[g * layer.group:(g + 1) * layer.group])
            if reference.PADDED in members:
                continue
            if members not in number:
                number[members] = len(groups)
                groups.append(members)
            terms.append((g, number[members]))
        per_position.append(terms)
    outputs = tuple(tuple((gid, int(index[o, g])) for g, gid in terms)
                    for o in range(layer.out_channels) for terms in per_position)
    return tuple(groups), outputs


def grouped_connectivity(layer, g):
    """``(table, groups, outputs)`` looking up ``g`` consecutive inputs of a d = 1 dense layer
    together: one column per codeword combination in use, ``A**g`` rows (mixed radix), entry
    = the sum of the ``g`` products, so sums are exact and each output has ``G / g`` terms."""
    levels, table = layer.in_levels, layer.table
    combos, column, outputs = [], {}, []
    for o in range(layer.out_channels):
        terms = []
        for start in range(0, layer.fan_in, g):
            combo = tuple(int(k) for k in layer.weight_index[o, start:start + g])
            if combo not in column:
                column[combo] = len(combos)
                combos.append(combo)
            terms.append((start // g, column[combo]))
        outputs.append(tuple(terms))
    rows = []
    for row in range(levels ** g):
        digits = [(row // levels ** j) % levels for j in range(g)]
        rows.append(tuple(sum(int(table[a, k]) for a, k in zip(digits, combo, strict=True))
                          for combo in combos))
    return tuple(rows), dense_groups(layer.fan_in, g), tuple(outputs)


def _every_position(layer, in_shape):
    """``(groups, outputs, bias, activation)`` of a dense or conv layer with every output
    position of an ``in_shape`` input its own output."""
    groups, outputs = connectivity(layer, in_shape)
    per_channel = len(outputs) // layer.out_channels
    bias = tuple(int(layer.bias[o // per_channel]) for o in range(len(outputs)))
    return groups, outputs, bias, activation_of(layer, len(outputs))


def _table(layer):
    return tuple(tuple(int(v) for v in row) for row in layer.table)


def _index(layer):
    return tuple(tuple(int(k) for k in row) for row in layer.weight_index)


# -- weighted layers --------------------------------------------------------------------------

def _unrolled(layer, in_shape, options, weights, describe_as, codebook_rom=False):
    groups, outputs, bias, activation = _every_position(layer, in_shape)
    if weights is None:
        grouping = options.group_inputs if option_applies("group_inputs", layer,
                                                          options.arch) else "auto"
        sums = options.sum_register if option_applies("sum_register", layer,
                                                      options.arch) else SumRegister.ON
        return lower_unrolled(layer, in_shape,
                              replace(options, group_inputs=grouping, sum_register=sums),
                              groups=groups, outputs=outputs, bias=bias,
                              activation=activation, describe_as=describe_as)
    method = "search" if options.threshold_method == "search" else "parallel"
    return MacUnrolledPlan(None, groups, outputs, bias, activation, layer.in_levels,
                           int(np.prod(in_shape)), options.register_every, method,
                           weights=weights, describe_as=describe_as)


def _folded(layer, in_shape, options, weights, describe_as, codebook_rom=False):
    table, in_levels = _table(layer), layer.in_levels
    if isinstance(layer, Conv) and weights is None:
        table, in_levels = padded_table(table, in_levels, layer.group), in_levels + 1
    engine = FoldedPlan(None if weights else table, _index(layer),
                        tuple(int(b) for b in layer.bias),
                        activation_of(layer, layer.out_channels), in_levels, layer.group,
                        options.pe, options.simd, options.table_style, options.register_every,
                        weights=weights, codebook_rom=codebook_rom, describe_as=describe_as,
                        weight_style=options.weight_style, input_buffer=options.input_buffer)
    if isinstance(layer, Dense):
        return engine
    window = WindowPlan(in_shape, layer.kernel, layer.stride, layer.padding,
                        index_width(layer.in_levels))
    element = engine.element if engine.element is not None else engine.acc
    collector = CollectorPlan(window.positions, layer.out_channels, element)
    # a padded tap enters as the extra index A (its table row is zeros); the baseline's as 0,
    # since 0 * w = 0 (zero padding with a plain a * w, index width unchanged)
    return FoldedConvPlan(window, engine, collector, 0 if weights else layer.in_levels,
                          describe_as=describe_as)


def weighted_plan(layer, in_shape, options, *, position=0, baseline=None):
    """The plan of a dense or conv layer reading a tensor of ``in_shape``, built as the
    resolved ``options`` say (``baseline``: one of the multiplier baselines,
    :data:`BASELINES`)."""
    if not isinstance(layer, (Dense, Conv)):
        raise OptionsError(f"{layer.kind} has no weights")
    options = options.resolved() if isinstance(options, LayerOptions) else options
    describe = {"index": position, "kind": layer.kind}
    weights = None
    if baseline is not None:
        weights = slope_weights(layer.table)
        describe["arch"] = f"{options.arch} multiplier baseline" if baseline == "integer" \
            else f"{options.arch} codebook multiplier baseline"
        describe.update({"pe": options.pe, "simd": options.simd}
                        if options.arch == Arch.FOLDED
                        else {"threshold_method": str(options.threshold_method)})
    elif options.arch == Arch.FOLDED:
        describe.update(arch="folded", pe=options.pe, simd=options.simd)
    else:
        describe.update(arch="unrolled", threshold_method=str(options.threshold_method),
                        group_inputs=options.group_inputs)
    if baseline is None and options.arch == Arch.FOLDED:
        rows = (layer.in_levels + isinstance(layer, Conv)) ** layer.group   # + the padding row
        describe["table_style"] = table_style(options.table_style, rows * layer.n_codewords)
    if options.arch == Arch.FOLDED and options.weight_style != "auto":
        describe["weight_style"] = str(options.weight_style)
    if options.arch == Arch.FOLDED and options.input_buffer != "double":
        describe["input_buffer"] = str(options.input_buffer)
    describe["register_every"] = options.register_every
    build = _folded if options.arch == Arch.FOLDED else _unrolled
    try:
        return build(layer, in_shape, options, weights, tuple(describe.items()),
                     codebook_rom=baseline == "codebook")
    except OptionsError as error:                # an option the layer's values do not allow
        raise OptionsError(f"layer {position} ({layer.kind}): {error}") from None


def baseline_model(model):
    """``model`` with every weighted layer's table replaced by ``a * w_k`` (what the integer
    multiplier baseline computes; :func:`~.tables.slope_weights`). Raises a one-line
    :class:`OptionsError` for a layer with vector codebooks (``group > 1``)."""
    from dataclasses import replace

    layers = []
    for position, layer in enumerate(model.layers):
        if isinstance(layer, (Dense, Conv)):
            if layer.group != 1:
                raise OptionsError(f"layer {position} ({layer.kind}): the multiplier baseline "
                                   "covers dense and conv layers with scalar codebooks (d = 1)")
            weights = slope_weights(layer.table)
            table = np.array([[a * w for w in weights] for a in range(layer.in_levels)],
                             dtype=np.int64)
            layer = replace(layer, table=table)
        layers.append(layer)
    return replace(model, layers=tuple(layers))


# -- the whole network ------------------------------------------------------------------------

def model_sha256(model):
    """The sha256 of ``model``'s file bytes (:func:`~nomul.models.modelfile.model_to_bytes`:
    the same model, the same bytes)."""
    import hashlib

    from ..models.modelfile import model_to_bytes

    return hashlib.sha256(model_to_bytes(model)).hexdigest()


@few_collections()
def lower(model, options=None, *, baseline=None):
    """The :class:`~.design.Design` of ``model`` built as ``options`` (a
    :class:`~.options.BuildOptions`, default: every layer unrolled) say.

    ``baseline="integer"`` or ``"codebook"`` lowers a multiplier baseline instead (dense and
    conv layers with d = 1; it computes :func:`baseline_model` of ``model``; see
    :data:`BASELINES`). Raises
    :class:`~nomul.errors.OptionsError` for options that do not fit the model.
    """
    options = BuildOptions() if options is None else options
    if baseline is not None:
        if baseline not in BASELINES:
            raise OptionsError(f"baseline must be one of {', '.join(BASELINES)}, not "
                               f"{baseline!r}")
        baseline_model(model)                  # refuses what the baseline does not cover
    resolved = layer_options(model, options)
    spec = model.input
    lanes = spec.elements if options.input_lanes is None else options.input_lanes
    # a sample over several transfers: quantized lane by lane as it arrives, then its indices
    # collected (narrower than the raw samples, and ``lanes`` quantizers, not one per element),
    # unless each element has thresholds of its own
    lane_quantizer = lanes < spec.elements and not spec.per_feature
    quantizer = QuantizerPlan(lanes if lane_quantizer else spec.elements, spec.raw_min,
                              spec.raw_max,
                              None if spec.thresholds is None else spec.thresholds.tolist())
    stages, layers = [(quantizer.name, quantizer)], []
    if lane_quantizer:
        collect = DeserializerPlan(spec.elements, lanes, quantizer.index)
        stages.append((collect.name, collect))
    for position, layer in enumerate(model.layers):
        in_shape = model.shapes[position]
        if position in resolved:
            plan = weighted_plan(layer, in_shape, resolved[position], position=position,
                                 baseline=baseline)
        else:                                  # a weightless kind: its own lowering
            plan = LOWERINGS[type(layer)](layer, in_shape, model.levels[position], position)
        if plan is None:                       # no hardware (flatten)
            layers.append({"index": position, "kind": layer.kind, "latency": 0, "ii": 1})
            continue
        stages.append((f"layer_{position}_{layer.kind}", plan))
        layers.append(plan.describe())
    if not options.input_register or \
            len(stages) > 1 and isinstance(stages[1][1], (FoldedPlan, DeserializerPlan)):
        # a folded dense layer, or the collection of a sample's indices, registers its input
        # itself: the quantizer feeds it directly (and so it does when told to)
        stages[0] = (quantizer.name, replace(quantizer, registered=False))
    raw = field_of(Bounds(spec.raw_min, spec.raw_max))
    deserializer = DeserializerPlan(spec.elements, lanes, raw) \
        if lanes < spec.elements and not lane_quantizer else None
    return Design(name=options.name, stages=tuple(stages), deserializer=deserializer,
                  layers=tuple(tuple(layer.items()) for layer in layers), options=options,
                  shape=tuple(spec.shape), raw=raw, output=model.output,
                  classes=model.n_classes if model.output == "argmax" else None,
                  baseline=baseline, model_sha256=model_sha256(model))
