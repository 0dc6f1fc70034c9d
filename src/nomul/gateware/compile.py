# SPDX-License-Identifier: MIT
"""The one place where an integer model becomes gateware parameters (plain ints and tuples).

Gateware components never see model objects or numpy arrays; this module reads a
:class:`~nomul.models.spec.IntegerModel` and the :class:`~nomul.gateware.options.BuildOptions`
and hands each component the tuples it needs.
"""

import numpy as np

from ..errors import OptionsError
from ..models import reference
from ..models.spec import Conv, Dense, MaxPool
from ..numeric import index_width
from .conv import FoldedConv, padded_table
from .folded import FoldedDense
from .layers import UnrolledLayer
from .tables import dense_groups
from .window import PatchCollector, PatchStreamer

__all__ = ["connectivity", "grouped_connectivity", "activation_params", "unrolled_layer",
           "folded_layer", "weighted_layer", "LAYER_OPTION_SCOPE", "option_applies",
           "check_options", "build_network"]


def connectivity(layer, in_shape):
    """``(groups, outputs)`` of a weighted layer as :class:`UnrolledLayer` expects them.

    Dense: consecutive groups, output ``o`` uses ``(g, weight_index[o][g])`` for every g.
    Conv: the groups of every output position (element positions in the C-order input
    tensor; padded groups left out, as they contribute exactly 0), outputs in C order
    ``(channel, *position)``.
    """
    index = layer.weight_index
    if isinstance(layer, Dense):
        groups = dense_groups(layer.fan_in, layer.group)
        outputs = tuple(tuple((g, int(index[o, g])) for g in range(layer.n_groups))
                        for o in range(layer.out_channels))
        return groups, outputs
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


def activation_params(layer, outputs):
    """The activation tuple of :class:`UnrolledLayer` for ``outputs`` accumulators."""
    act = layer.activation
    if act.kind != "thresholds":
        return (act.kind,)
    thresholds = act.thresholds
    per_channel = outputs // layer.out_channels
    if thresholds.ndim == 1:
        rows = (tuple(int(t) for t in thresholds),) * outputs
    else:          # per output channel; conv outputs are (channel, position) in C order
        rows = tuple(tuple(int(t) for t in thresholds[o // per_channel])
                     for o in range(outputs))
    return ("thresholds", rows)


def grouped_connectivity(layer, g):
    """``(table, groups, outputs)`` looking up ``g`` consecutive inputs of a d = 1 dense layer
    together: one column per codeword combination in use, ``A**g`` rows (mixed radix), entry
    = the sum of the ``g`` products, so sums are exact and each output has ``G / g`` terms."""
    levels, table = layer.in_levels, layer.table
    combos, column = [], {}
    outputs = []
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


def unrolled_layer(layer, in_shape, options):
    """An :class:`UnrolledLayer` for a dense or conv layer reading a tensor of ``in_shape``."""
    if not isinstance(layer, (Dense, Conv)):
        raise OptionsError(f"{layer.kind} has no weights to unroll")
    if options.group_inputs > 1:
        table, groups, outputs = grouped_connectivity(layer, options.group_inputs)
        return UnrolledLayer(table, groups, outputs, tuple(int(b) for b in layer.bias),
                             activation_params(layer, layer.out_channels),
                             in_levels=layer.in_levels, n_inputs=layer.fan_in,
                             register_every=options.register_every,
                             threshold_method=options.threshold_method)
    groups, outputs, bias, activation = _every_position(layer, in_shape)
    return UnrolledLayer(
        tuple(tuple(int(v) for v in row) for row in layer.table), groups, outputs, bias,
        activation, in_levels=layer.in_levels, n_inputs=int(np.prod(in_shape)),
        register_every=options.register_every, threshold_method=options.threshold_method)


def _every_position(layer, in_shape):
    """``(groups, outputs, bias, activation)`` of a dense or conv layer with every output
    position of an ``in_shape`` input its own output: :func:`connectivity`, each channel's bias
    and activation repeated over its positions."""
    groups, outputs = connectivity(layer, in_shape)
    per_channel = len(outputs) // layer.out_channels
    bias = tuple(int(layer.bias[o // per_channel]) for o in range(len(outputs)))
    return groups, outputs, bias, activation_params(layer, len(outputs))


def weighted_layer(layer, in_shape, options):
    """A dense or conv layer built as ``options.arch`` says: :func:`folded_layer` or
    :func:`unrolled_layer`."""
    build = folded_layer if options.arch == "folded" else unrolled_layer
    return build(layer, in_shape, options)


def folded_layer(layer, in_shape, options):
    """A :class:`FoldedDense` (PE x SIMD engine) for a dense layer, or a :class:`FoldedConv`
    (sliding windows through the same engine) for a convolution."""
    table = tuple(tuple(int(v) for v in row) for row in layer.table)
    in_levels = layer.in_levels
    if isinstance(layer, Conv):
        table, in_levels = padded_table(table, in_levels, layer.group), in_levels + 1
    engine = FoldedDense(table, tuple(tuple(int(k) for k in row) for row in layer.weight_index),
                         tuple(int(b) for b in layer.bias),
                         activation_params(layer, layer.out_channels), in_levels=in_levels,
                         group=layer.group, pe=options.pe, simd=options.simd,
                         table_style=options.table_style, register_every=options.register_every)
    if isinstance(layer, Dense):
        return engine
    return _sliding(layer, in_shape, engine, pad_index=layer.in_levels)


def _sliding(layer, in_shape, engine, *, pad_index):
    """A conv layer's :class:`FoldedConv`: patches of ``in_shape`` through ``engine``, a padded
    tap entering as ``pad_index``."""
    streamer = PatchStreamer(in_shape, kernel=layer.kernel, stride=layer.stride,
                             padding=layer.padding, index_width=index_width(layer.in_levels))
    collector = PatchCollector(streamer.positions, channels=layer.out_channels,
                               element_shape=engine.o.payload.shape().elem_shape)
    return FoldedConv(streamer, engine, collector, pad_index=pad_index)


# what each layer option concerns (the error when it concerns no layer of the design)
LAYER_OPTION_SCOPE = {
    "arch": "weighted layers",
    "register_every": "weighted layers",
    "pe": "folded layers (--arch folded)",
    "simd": "folded layers (--arch folded)",
    "table_style": "folded layers (--arch folded)",
    "threshold_method": "unrolled layers with thresholds",
    "group_inputs": "unrolled dense layers with scalar codebooks (group 1)",
}


def option_applies(name, layer, arch):
    """Whether the layer option ``name`` changes how ``layer`` is built as ``arch``."""
    if name in ("pe", "simd", "table_style"):
        return arch == "folded"
    if name == "threshold_method":
        return arch == "unrolled" and layer.activation.kind == "thresholds"
    if name == "group_inputs":
        return arch == "unrolled" and isinstance(layer, Dense) and layer.group == 1
    return True


def check_options(model, options):
    """Refuse options that do not fit the model before any component is made."""
    for position, layer in enumerate(model.layers):
        layer_options = options.for_layer(position)
        if isinstance(layer, (Dense, Conv)) and layer_options.arch == "folded":
            where = f"layer {position} ({layer.kind})"
            if layer.n_groups % layer_options.simd:
                raise OptionsError(f"{where}: simd {layer_options.simd} does not divide the "
                                   f"{layer.n_groups} input groups")
            if layer.out_channels % layer_options.pe:
                raise OptionsError(f"{where}: pe {layer_options.pe} does not divide the "
                                   f"{layer.out_channels} outputs")
        g = layer_options.group_inputs
        if g > 1 and isinstance(layer, (Dense, Conv)) and layer_options.arch == "unrolled":
            where = f"layer {position} ({layer.kind})"
            if not isinstance(layer, Dense) or layer.group != 1:
                raise OptionsError(f"{where}: --group-inputs needs a dense layer with scalar "
                                   f"codebooks (group 1)")
            if layer.fan_in % g:
                raise OptionsError(f"{where}: --group-inputs {g} does not divide the "
                                   f"{layer.fan_in} inputs")
            if layer.in_levels ** g > 4096:
                raise OptionsError(f"{where}: --group-inputs {g} makes tables of "
                                   f"{layer.in_levels}**{g} rows (limit 4096)")
    if options.input_lanes is not None and options.input_lanes > model.input.elements:
        raise OptionsError(f"--input-lanes {options.input_lanes} exceeds the "
                           f"{model.input.elements} input elements")


def mac_layer(layer, options, in_shape=None):
    """The multiplier baseline of a dense or conv layer reading a tensor of ``in_shape``
    (:mod:`nomul.gateware.baseline`): a :class:`FoldedMacDense` (in a :class:`FoldedConv` for a
    convolution, padded taps as index 0) folded as ``options`` say, or an
    :class:`UnrolledMacLayer` (every output in parallel, one tensor per clock) for an unrolled
    layer. ``in_shape`` defaults to the dense layer's ``(fan_in,)``; a conv layer needs it."""
    from .baseline import FoldedMacDense, UnrolledMacLayer, slope_weights

    if in_shape is None:
        if not isinstance(layer, Dense):
            raise TypeError(f"mac_layer needs the input shape of a {layer.kind} layer")
        in_shape = (layer.fan_in,)
    weights = slope_weights(layer.table)
    if options.arch != "folded":
        groups, outputs, bias, activation = _every_position(layer, in_shape)
        return UnrolledMacLayer(weights, groups, outputs, bias, activation,
                                in_levels=layer.in_levels, n_inputs=int(np.prod(in_shape)),
                                register_every=options.register_every,
                                threshold_method=options.threshold_method)
    engine = FoldedMacDense(weights,
                            tuple(tuple(int(k) for k in row) for row in layer.weight_index),
                            tuple(int(b) for b in layer.bias),
                            activation_params(layer, layer.out_channels),
                            in_levels=layer.in_levels, pe=options.pe, simd=options.simd,
                            register_every=options.register_every)
    if isinstance(layer, Dense):
        return engine
    return _sliding(layer, in_shape, engine, pad_index=0)      # 0 * w = 0: zero padding


def build_network(model, options, *, baseline=False):
    """The :class:`NetworkTop` of ``model`` built as ``options`` say.

    Returns ``(top, layers)``: the top component and, per model layer, a JSON-ready description
    of what was built (architecture, latency, ii). ``baseline=True`` builds the multiplier
    baseline instead (:mod:`nomul.gateware.baseline`; dense and conv layers with d = 1), which
    computes :func:`~nomul.gateware.baseline.baseline_model` of ``model``.
    """
    if baseline:
        from .baseline import baseline_model

        baseline_model(model)                  # refuses what the baseline does not cover
    from .network import NetworkTop
    from .pool import MaxPool as PoolUnit
    from .quantizer import InputQuantizer

    check_options(model, options)
    spec = model.input
    thresholds = None if spec.thresholds is None else tuple(int(t) for t in spec.thresholds)
    stages = [InputQuantizer(spec.elements, raw_min=spec.raw_min, raw_max=spec.raw_max,
                             thresholds=thresholds)]
    names, described = ["quantizer"], []
    for position, layer in enumerate(model.layers):
        in_shape = model.shapes[position]
        layer_options = options.for_layer(position)
        entry = {"index": position, "kind": layer.kind}
        if isinstance(layer, (Dense, Conv)):
            if baseline:
                stage = mac_layer(layer, layer_options, in_shape)
                entry.update(arch=f"{layer_options.arch} multiplier baseline")
                if layer_options.arch == "folded":
                    entry.update(pe=layer_options.pe, simd=layer_options.simd)
                else:
                    entry.update(threshold_method=layer_options.threshold_method)
            elif layer_options.arch == "folded":
                stage = folded_layer(layer, in_shape, layer_options)
                entry.update(arch="folded", pe=layer_options.pe, simd=layer_options.simd,
                             table_style=stage.table_style)
            else:
                stage = unrolled_layer(layer, in_shape, layer_options)
                entry.update(arch="unrolled", threshold_method=layer_options.threshold_method,
                             group_inputs=layer_options.group_inputs)
            entry.update(register_every=layer_options.register_every,
                         accumulator_bits=stage.acc_shape.width)
        elif isinstance(layer, MaxPool):
            stage = PoolUnit(in_shape, kernel=layer.kernel, stride=layer.stride,
                             index_width=index_width(model.levels[position]))
        else:                                  # flatten: the payload order is already C order
            described.append({**entry, "latency": 0, "ii": 1})
            continue
        entry.update(latency=stage.latency, ii=stage.ii)
        stages.append(stage)
        names.append(f"layer_{position}_{layer.kind}")
        described.append(entry)
    top = NetworkTop(stages, elements=spec.elements, lanes=options.input_lanes,
                     stage_names=names)
    return top, described
