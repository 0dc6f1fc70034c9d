# SPDX-License-Identifier: MIT
"""Float codebooks -> integer model: the one place where floats become integers.

A :class:`FloatNetwork` is a fully discretized network described in floats: activation
levels (``values``), weight codebooks, weight indices, float biases and a monotone
non-linearity. :func:`float_forward` runs it in float64 with the same tie rule as the integer
reference (the *float-simulated quantized model*); :func:`export` turns it into an
:class:`~nomul.models.spec.IntegerModel` by the deterministic rules of docs/architecture.md:

- ``table[a][k] = floor(product(a, k) * 2**F + 1/2)`` where ``product`` is the dot product of
  the group's input values with codeword ``k`` (``v_in[i] * c[k]`` for ``d = 1``);
- ``bias = floor(b * 2**F + 1/2)``;
- ``threshold_k = ceil(f^-1((v[k-1] + v[k]) / 2) / scale * 2**F)``;
- ``F`` per layer: the smallest at which the layer's integer outputs agree with the float
  simulation on a calibration set (default target 99.5 %), within a table-width budget.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from ..numeric import Bounds
from . import reference
from .nonlinearity import boundaries
from .spec import Activation, Conv, Dense, IntegerModel, WeightlessLayer

__all__ = ["FloatWeighted", "FloatNetwork", "float_forward", "export", "layer_at",
           "MAX_FRAC_BITS"]

MAX_FRAC_BITS = 32


@dataclass(frozen=True, eq=False)
class FloatWeighted:
    """A dense or conv layer with float codebooks.

    ``codebook`` is ``(K,)`` (scalar weights) or ``(K, d)`` (product quantization, group ``d``);
    ``weight_index`` ``(M, G)`` as in the integer model; ``bias`` ``(M,)`` float;
    ``activation`` a non-linearity name, ``"argmax"`` or ``"raw"``; ``out_values`` the
    ascending output levels of a non-linearity; ``scale`` a positive factor (scalar or per
    output) applied to the pre-activation before the non-linearity (WAGE's constant scale, or a
    folded normalization). ``kernel`` is ``None`` for dense layers.
    """

    codebook: np.ndarray
    weight_index: np.ndarray
    bias: np.ndarray
    activation: str
    out_values: np.ndarray | None = None
    scale: float | np.ndarray = 1.0
    kernel: tuple | None = None
    stride: tuple | None = None
    padding: tuple | None = None

    @property
    def group(self):
        codebook = np.asarray(self.codebook)
        return 1 if codebook.ndim == 1 else int(codebook.shape[1])

    def dense_weights(self):
        """The float weight matrix ``(M, fan_in)`` the codebook and indices stand for."""
        codebook = np.asarray(self.codebook, dtype=np.float64).reshape(
            len(self.codebook), self.group)
        index = np.asarray(self.weight_index, dtype=np.int64)
        return codebook[index].reshape(index.shape[0], -1)


@dataclass(frozen=True, eq=False)
class FloatNetwork:
    """Input spec, the float value of each input index, and the layers (weighted or not)."""

    input: object                      # spec.InputSpec
    input_values: np.ndarray
    layers: tuple
    meta: dict = field(default_factory=dict)


def layer_at(layer, in_levels, activation, meta, arrays):
    """Integer layer of the same geometry as ``layer`` with the given arrays."""
    common = dict(in_levels=in_levels, group=layer.group, table=arrays["table"],
                  weight_index=np.asarray(layer.weight_index, dtype=np.int64),
                  bias=arrays["bias"], activation=activation, meta=meta)
    if layer.kernel is None:
        return Dense(**common)
    return Conv(**common, kernel=layer.kernel, stride=layer.stride, padding=layer.padding)


def _pre_activation(x, values, layer):
    """Float pre-activation ``z`` of one layer from input indices ``x`` and their ``values``.

    A padded conv tap contributes 0, as in the integer reference.
    """
    weights = layer.dense_weights()
    bias = np.asarray(layer.bias, dtype=np.float64)
    if layer.kernel is None:
        return values[x] @ weights.T + bias
    stride = _or(layer.stride, (1,) * len(layer.kernel))
    padding = _or(layer.padding, (0,) * len(layer.kernel))
    taps = reference.patches(x, layer.kernel, stride, padding)
    tap_values = np.where(taps == reference.PADDED, 0.0, values[np.maximum(taps, 0)])
    z = tap_values @ weights.T + bias                    # (B, P, M)
    out_spatial = tuple((s + 2 * p - k) // st + 1 for s, k, st, p in
                        zip(x.shape[2:], layer.kernel, stride, padding, strict=True))
    return z.reshape(x.shape[0], *out_spatial, -1).transpose(
        0, len(out_spatial) + 1, *range(1, len(out_spatial) + 1))


def _or(value, default):
    return default if value is None else value


def _float_boundaries(layer):
    """Pre-activation boundaries ``(T,)`` or per output ``(M, T)``."""
    bounds = boundaries(layer.activation, layer.out_values)
    scale = np.asarray(layer.scale, dtype=np.float64)
    if np.any(scale <= 0):
        raise ModelError("scale: must be positive")
    return bounds / scale if scale.ndim == 0 else bounds[None, :] / scale[:, None]


def _float_activation(z, layer):
    if layer.activation == "argmax":
        return np.argmax(z, axis=1).astype(np.int64)   # lowest index on ties, as in reference
    if layer.activation == "raw":
        return z
    bounds = _float_boundaries(layer)
    if bounds.ndim == 1:
        return np.searchsorted(bounds, z, side="right").astype(np.int64)
    shaped = bounds.reshape(bounds.shape[:1] + (1,) * (z.ndim - 2) + bounds.shape[1:])
    return np.sum(z[..., None] >= shaped[None], axis=-1, dtype=np.int64)


def float_forward(net, raw, *, trace=False):
    """Float-simulated quantized model: indices between layers, float64 sums inside.

    Returns the output (class indices or float pre-activations), or with ``trace=True`` the
    list of ``(input_indices, z, output)`` per weighted layer and ``None`` for other layers.
    """
    x = reference.quantize_input(net.input, raw)
    values = np.asarray(net.input_values, dtype=np.float64)
    traces = []
    for layer in net.layers:
        if isinstance(layer, FloatWeighted):
            z = _pre_activation(x, values, layer)
            out = _float_activation(z, layer)
            traces.append((x, z, out))
            x = out
            if layer.out_values is not None:
                values = np.asarray(layer.out_values, dtype=np.float64)
        elif isinstance(layer, WeightlessLayer):
            x = layer.reference(x)
            traces.append(None)
        else:
            raise ModelError(f"unknown float layer {type(layer).__name__}")
    return traces if trace else x


def _integer_arrays(layer, in_values, frac_bits):
    """Table, bias and thresholds of one layer at ``frac_bits`` (round half up, ceil)."""
    d = layer.group
    codebook = np.asarray(layer.codebook, dtype=np.float64).reshape(-1, d)
    in_values = np.asarray(in_values, dtype=np.float64)
    levels = in_values.size
    rows = np.arange(levels ** d)
    digits = (rows[:, None] // levels ** np.arange(d)[None, :]) % levels    # little-endian
    products = in_values[digits] @ codebook.T                                 # (A^d, K)
    arrays = {
        "table": np.floor(np.ldexp(products, frac_bits) + 0.5).astype(np.int64),
        "bias": np.floor(np.ldexp(np.asarray(layer.bias, dtype=np.float64), frac_bits)
                         + 0.5).astype(np.int64),
    }
    if layer.activation not in ("argmax", "raw"):
        arrays["thresholds"] = np.ceil(np.ldexp(_float_boundaries(layer), frac_bits)
                                       ).astype(np.int64)
    return arrays


def _activation(layer, arrays):
    if layer.activation in ("argmax", "raw"):
        return Activation(layer.activation)
    return Activation("thresholds", arrays["thresholds"])


def _agreement(layer, int_layer, x, z, out_float):
    """Fraction of outputs where the integer layer matches the float simulation."""
    acc = reference.weighted(x, int_layer)
    if layer.activation == "raw":
        scale = max(float(np.max(np.abs(z))), 1e-12)
        error = np.abs(np.ldexp(acc.astype(np.float64), -_frac(int_layer)) - z)
        return float(np.mean(error <= 1e-3 * scale))
    if layer.activation == "argmax":
        out = reference.argmax(acc)
    else:
        out = reference.threshold_count(acc, int_layer.activation.thresholds)
    return float(np.mean(out == out_float))


def _frac(int_layer):
    return int_layer.meta["frac_bits"]


def _entry_bits(table):
    return Bounds.of(table).width


def _build_layer(layer, values, levels, bits, trace=None):
    """Integer layer at F = ``bits``; records the calibration agreement when a trace is given."""
    arrays = _integer_arrays(layer, values, bits)
    meta = _layer_meta(layer, values, bits)
    int_layer = layer_at(layer, levels, _activation(layer, arrays), meta, arrays)
    if trace is None:
        return int_layer
    agree = _agreement(layer, int_layer, *trace)
    return layer_at(layer, levels, _activation(layer, arrays),
                    {**meta, "calibration_agreement": agree}, arrays)


def _choose_frac_bits(layer, values, levels, trace, agreement, margin_bits, max_entry_bits):
    """Smallest F meeting ``agreement`` on the trace, plus the margin, within the budget."""
    within_budget = MAX_FRAC_BITS
    chosen = None
    for bits in range(MAX_FRAC_BITS + 1):
        if max_entry_bits is not None and bits > 0 and \
                _entry_bits(_integer_arrays(layer, values, bits)["table"]) > max_entry_bits:
            within_budget = bits - 1
            break
        if chosen is None and _build_layer(layer, values, levels, bits, trace).meta[
                "calibration_agreement"] >= agreement:
            chosen = bits
            if max_entry_bits is None:
                break
    return min(within_budget, MAX_FRAC_BITS if chosen is None else chosen + margin_bits)


def export(net, *, calibration=None, frac_bits=None, agreement=0.995, margin_bits=0,
           max_entry_bits=None, meta=None):
    """Integer model of ``net``.

    ``frac_bits``: an int or one per weighted layer fixes F; otherwise F is chosen per layer as
    the smallest F in ``0..MAX_FRAC_BITS`` at which the layer's integer outputs agree with the
    float simulation on the raw ``calibration`` samples in at least ``agreement`` of cases,
    plus ``margin_bits`` (for samples beyond the calibration set), never past
    ``max_entry_bits`` bits per table entry (then the largest F within budget).
    """
    weighted = [layer for layer in net.layers if isinstance(layer, FloatWeighted)]
    if frac_bits is not None:
        fixed = [int(frac_bits)] * len(weighted) if np.ndim(frac_bits) == 0 else \
            [int(f) for f in frac_bits]
        if len(fixed) != len(weighted):
            raise ModelError(f"frac_bits: {len(fixed)} values for {len(weighted)} weighted "
                             f"layers")
        fixed = iter(fixed)
    elif calibration is None:
        raise ModelError("export needs calibration samples or fixed frac_bits")
    traces = float_forward(net, calibration, trace=True) if calibration is not None else None
    layers, values = [], np.asarray(net.input_values, dtype=np.float64)
    levels = net.input.levels
    for i, layer in enumerate(net.layers):
        if not isinstance(layer, FloatWeighted):
            layers.append(layer)
            continue
        trace = traces[i] if traces is not None else None
        bits = next(fixed) if frac_bits is not None else _choose_frac_bits(
            layer, values, levels, trace, agreement, margin_bits, max_entry_bits)
        layers.append(_build_layer(layer, values, levels, bits, trace))
        if layer.out_values is not None:
            values = np.asarray(layer.out_values, dtype=np.float64)
            levels = values.size
    model_meta = dict(net.meta)
    model_meta.setdefault("input_values", [float(v) for v in net.input_values])
    if meta:
        model_meta.update(meta)
    return IntegerModel(input=net.input, layers=tuple(layers), meta=model_meta)


def _layer_meta(layer, in_values, frac_bits):
    meta = {
        "frac_bits": int(frac_bits),
        "in_values": [float(v) for v in in_values],
        "weight_codebook": np.asarray(layer.codebook, dtype=np.float64).tolist(),
        "nonlinearity": layer.activation,
    }
    if layer.out_values is not None:
        meta["out_values"] = [float(v) for v in layer.out_values]
    scale = np.asarray(layer.scale, dtype=np.float64)
    meta["scale"] = float(scale) if scale.ndim == 0 else scale.tolist()
    if not all(math.isfinite(v) for v in np.ravel(meta["weight_codebook"])):
        raise ModelError("weight_codebook: contains NaN or infinity")
    return meta

