# SPDX-License-Identifier: MIT
"""Float ONNX graphs to integer models: post-training quantization through the export step.

The graph's chain (:mod:`nomul.importers.graph`) becomes a
:class:`~nomul.models.export.FloatNetwork`, calibrated on the data's training split:

- the input: integer data spanning at most 32 codes is its own index (identity); otherwise
  each feature (each channel, before a convolution) gets ``A_in`` evenly spaced levels over
  its training range, nearest level (ties up): feature ``j``'s threshold for level ``k`` is
  the smallest raw code ``r`` with ``r / scale[j]`` at or above the midpoint of levels
  ``k - 1`` and ``k``. Constant ``Sub``/``Div``/``Mul``/``Add`` nodes before the first layer
  are folded into its weights;
- every ``Relu`` (or ``Clip`` from 0) becomes ``A`` uniform levels over ``[0, hi]`` with
  ``hi`` the 99.9th percentile of the layer's float output on the training split (at most
  the clip); ``hi`` moves into the next layer's weights;
- each weighted layer's weights (with the folded constants, BatchNorm, Mul and Add) are
  k-means clustered to ``K`` codewords (:func:`~nomul.models.training.codebooks.fit_codebook`);
- the last dense layer is the argmax; a single logit becomes two outputs ``(0, logit)``.

:func:`~nomul.models.export.export` then chooses each layer's fixed point as ``nomul train``
does (99.99 % agreement with the float simulation on the training split, plus 2 bits).
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from ..models.export import FloatNetwork, FloatWeighted, export
from ..models.kinds.flatten import Flatten
from ..models.kinds.maxpool import MaxPool
from ..models.spec import LIMITS, InputSpec

__all__ = ["lower", "forward", "PERCENTILE", "IDENTITY_MAX_LEVELS", "DEFAULT_LEVELS"]

PERCENTILE = 99.9
IDENTITY_MAX_LEVELS = 32
DEFAULT_LEVELS = 16


def _windows(x, kernel, stride):
    """``(B, C, *out, *kernel)`` sliding windows of ``(B, C, *spatial)``."""
    view = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=tuple(range(2, x.ndim)))
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)
    return view[index]


def _conv(x, weight, bias, stride, padding):
    dims = weight.ndim - 2
    pad = [(0, 0), (0, 0)] + [(p, p) for p in padding]
    win = _windows(np.pad(x, pad), weight.shape[2:], stride)        # (B, C, *out, *k)
    letters = "hw"[:dims] if dims == 2 else "h"
    kern = "yx"[:dims] if dims == 2 else "y"
    out = np.einsum(f"bc{letters}{kern},oc{kern}->bo{letters}", win, weight)
    return out + (0 if bias is None else bias.reshape((1, -1) + (1,) * dims))


def _channel(value, ndim):
    array = np.asarray(value, dtype=np.float64)
    return array if array.ndim == 0 else array.reshape((1, -1) + (1,) * (ndim - 2))


def forward(ops, x):
    """Every op's float64 output for inputs ``x`` ``(B, *shape)`` (what onnxruntime computes,
    in float64): the calibration statistics."""
    outs = []
    for op in ops:
        f = op.fields
        if op.kind == "dense":
            x = x @ f["weight"].values.T + (0 if f["bias"] is None else f["bias"])
        elif op.kind == "conv":
            x = _conv(x, f["weight"].values, f["bias"], f["stride"], f["padding"])
        elif op.kind == "maxpool":
            x = _windows(x, f["kernel"], f["stride"]).max(
                axis=tuple(range(x.ndim, x.ndim + len(f["kernel"]))))
        elif op.kind == "flatten":
            x = x.reshape(len(x), -1)
        elif op.kind == "relu":
            x = np.maximum(x, 0)
        elif op.kind == "clip":
            x = np.clip(x, f["lo"], f["hi"])
        elif op.kind == "affine":
            x = x * _channel(f["mul"], x.ndim) + _channel(f["add"], x.ndim)
        else:
            raise ModelError(f"{op.where}: a quantizer in a float model")
        outs.append(x)
    return outs


@dataclass
class _Weighted:
    """A weighted layer being built: effective float weights ``(M, fan_in)`` and bias."""

    op: object
    weights: np.ndarray
    bias: np.ndarray
    deferred: list = field(default_factory=list)
    flattened: bool = False


class _Lowering:
    def __init__(self, graph, dataset, act_levels, weight_levels):
        self.graph = graph
        self.dataset = dataset
        self.act_levels = DEFAULT_LEVELS if act_levels is None else int(act_levels)
        self.weight_levels = DEFAULT_LEVELS if weight_levels is None else weight_levels
        self.layers = []
        self.count = 0
        self.notes = []
        shape = graph.input_shape
        self.x = dataset.source.x_train.reshape(len(dataset.source.x_train), *shape) \
            .astype(np.float32).astype(np.float64)
        self.outs = forward(graph.ops, self.x)
        self.pre = (np.ones(shape), np.zeros(shape))     # constants before the first layer
        self.input = None                  # (InputSpec, unit values, mult, offset)
        self.pending = None
        self.values_scale = None           # mult of the current index tensor (activations)

    def run(self):
        for position, op in enumerate(self.graph.ops):
            getattr(self, f"_{op.kind}")(op, position)
        return self._finish()

    # -- the input ------------------------------------------------------------------------
    def _input_quantizer(self, op):
        """The input spec and, per element, the feature value ``mult * v + offset`` of unit
        level value ``v``."""
        data = self.dataset
        shape = self.graph.input_shape
        raw = data.x_train.reshape(len(data.x_train), -1)
        lo_raw, hi_raw = int(data.input.raw_min), int(data.input.raw_max)
        scale = np.ones(raw.shape[1]) if data.scale is None else \
            np.asarray(data.scale, dtype=np.float64).reshape(-1)
        a, b = (v.reshape(-1) for v in self.pre)
        if np.any(a <= 0):
            raise ModelError(f"{op.where}: a non-positive scale of the input is not supported")
        if data.scale is None and hi_raw - lo_raw + 1 <= IDENTITY_MAX_LEVELS:
            spec = InputSpec(shape=shape, raw_min=lo_raw, raw_max=hi_raw)
            return spec, np.arange(lo_raw, hi_raw + 1, dtype=np.float64), a, b
        levels = self.act_levels
        feature = raw / scale[None, :]                       # what the hardware's codes mean
        if op.kind == "conv":                               # one grid per channel
            channels = shape[0]
            per = feature.reshape(len(feature), channels, -1)
            lo = np.repeat(per.min(axis=(0, 2)), per.shape[2])
            hi = np.repeat(per.max(axis=(0, 2)), per.shape[2])
        else:
            lo, hi = feature.min(axis=0), feature.max(axis=0)
        width = hi - lo
        mids = (np.arange(1, levels) - 0.5) / (levels - 1)
        bounds = lo[:, None] + width[:, None] * mids[None, :]          # feature units
        thresholds = np.ceil(bounds * scale[:, None] - 1e-9).astype(np.int64)
        thresholds[width == 0] = hi_raw + 1                           # a constant feature
        thresholds = np.clip(thresholds, lo_raw - 1, hi_raw + 1)
        if np.all(thresholds == thresholds[:1]):
            thresholds = thresholds[0]
        spec = InputSpec(shape=shape, raw_min=lo_raw, raw_max=hi_raw, quantizer="thresholds",
                         thresholds=thresholds)
        unit = np.arange(levels) / (levels - 1)
        return spec, unit, a * width, a * lo + b

    # -- ops -------------------------------------------------------------------------------
    def _affine(self, op, position):
        mul, add = op.fields["mul"], op.fields["add"]
        if self.pending is not None and not self.pending.deferred:
            w = self.pending
            shape = op.in_shape
            m = np.broadcast_to(np.asarray(mul, dtype=np.float64), (shape[0],))
            c = np.broadcast_to(np.asarray(add, dtype=np.float64), (shape[0],))
            w.weights = w.weights * m[:, None]
            w.bias = w.bias * m + c
            return
        if self.input is None and not self.layers and self.pending is None:
            shape = self.graph.input_shape
            m = np.broadcast_to(_channel_full(mul, shape), shape)
            c = np.broadcast_to(_channel_full(add, shape), shape)
            self.pre = (self.pre[0] * m, self.pre[1] * m + c)
            return
        raise ModelError(f"{op.where}: a constant here (after an activation or a pool) is not "
                         f"supported in a float model")

    def _dense(self, op, position):
        self._weighted(op, op.fields["weight"].values)

    def _conv(self, op, position):
        weight = op.fields["weight"].values
        dims = weight.ndim - 2
        self._weighted(op, np.transpose(weight, (0, *range(2, 2 + dims), 1)).reshape(
            weight.shape[0], -1))

    def _weighted(self, op, weights):
        if self.pending is not None:
            raise ModelError(f"{op.where}: two weighted layers without an activation between "
                             f"them ({self.pending.op.where})")
        if self.input is None:
            spec, unit, mult, offset = self._input_quantizer(op)
            self.input = (spec, unit)
            mult, offset = self._fan_in(op, mult, offset)
        else:
            mult, offset = np.full(weights.shape[1], self.values_scale), 0.0
        bias = op.fields["bias"]
        bias = np.zeros(weights.shape[0]) if bias is None else np.asarray(bias, np.float64)
        if np.any(offset != 0) and op.kind == "conv" and any(op.fields["padding"]):
            self.notes.append(f"{op.where}: the input offset is folded into the bias, padded "
                              f"taps included (approximate at the borders)")
        bias = bias + weights @ np.broadcast_to(offset, (weights.shape[1],))
        self.pending = _Weighted(op, weights * mult[None, :], bias)

    def _fan_in(self, op, mult, offset):
        """Per-element input constants in the layer's fan-in order (tap-major for a conv)."""
        if op.kind == "dense":
            return mult, offset
        channels = self.graph.input_shape[0]
        m = mult.reshape(channels, -1)
        o = offset.reshape(channels, -1)
        if np.any(m != m[:, :1]) or np.any(o != o[:, :1]):
            raise ModelError(f"{op.where}: the input constants vary inside a channel")
        taps = int(np.prod(op.fields["kernel"]))
        return np.tile(m[:, 0], taps), np.tile(o[:, 0], taps)

    def _maxpool(self, op, position):
        layer = MaxPool(kernel=op.fields["kernel"], stride=op.fields["stride"])
        self._weightless(op, layer)

    def _flatten(self, op, position):
        self._weightless(op, Flatten())

    def _weightless(self, op, layer):
        if self.pending is not None:
            self.pending.deferred.append(layer)
        elif self.input is None:
            raise ModelError(f"{op.where}: pooling or flattening the raw input is not supported")
        else:
            self.layers.append(layer)

    def _relu(self, op, position):
        self._activate(op, position, np.inf)

    def _clip(self, op, position):
        if op.fields["lo"] != 0:
            raise ModelError(f"{op.where}: only a clip from 0 (ReLU6) is supported")
        self._activate(op, position, op.fields["hi"])

    def _activate(self, op, position, top):
        if self.pending is None:
            raise ModelError(f"{op.where}: an activation that follows no weighted layer")
        out = self.outs[position]
        positive = out[out > 0]
        hi = float(np.percentile(positive, PERCENTILE)) if positive.size else 1.0
        hi = min(hi, float(top)) if np.isfinite(top) else hi
        levels = np.linspace(0.0, 1.0, self.act_levels)
        self._emit(self.pending, "clipped_relu", levels, 1.0 / hi)
        self.values_scale = hi

    def _emit(self, pending, activation, out_values, scale):
        weights, bias = pending.weights, pending.bias
        self.count += 1
        k = self.weight_levels
        k = k[min(self.count - 1, len(k) - 1)] if isinstance(k, tuple) else int(k)
        if activation == "argmax" and weights.shape[0] == 1:
            weights = np.vstack([np.zeros_like(weights), weights])
            bias = np.array([0.0, bias[0]])
            self.notes.append("single logit: two outputs (0, logit); class 1 when the "
                              "logit > 0")
        codebook, index = _codebook(weights, k, zero=activation == "argmax"
                                    and pending.weights.shape[0] == 1)
        op = pending.op
        geometry = {} if op.kind == "dense" else dict(
            kernel=op.fields["kernel"], stride=op.fields["stride"],
            padding=op.fields["padding"])
        self.layers.append(FloatWeighted(codebook=codebook, weight_index=index, bias=bias,
                                         activation=activation, out_values=out_values,
                                         scale=scale, **geometry))
        self.layers.extend(pending.deferred)
        self.pending = None

    def _finish(self):
        last = self.graph.ops[-1]
        if self.pending is None or self.pending.deferred or self.pending.op.kind != "dense":
            raise ModelError(f"{last.where}: the output must be the logits of a dense layer")
        self._emit(self.pending, "argmax", None, 1.0)
        spec, unit = self.input
        return FloatNetwork(input=spec, input_values=unit, layers=tuple(self.layers))


def _channel_full(value, shape):
    array = np.asarray(value, dtype=np.float64)
    return array if array.ndim == 0 else array.reshape((-1,) + (1,) * (len(shape) - 1))


def _codebook(weights, k, *, zero=False):
    """``(codebook, index)``: ``k`` k-means codewords of the weights (one exactly 0 when
    ``zero``: the constant output of a single-logit classifier)."""
    from ..models.training.codebooks import assign, fit_codebook

    if not 2 <= k <= LIMITS.codewords:
        raise ModelError(f"--weight-levels: {k} is not 2 to {LIMITS.codewords}")
    values = weights.reshape(-1)
    if zero:
        nonzero = weights[1:].reshape(-1)
        codebook = fit_codebook(nonzero, max(2, k - 1), "kmeans")
        codebook = np.unique(np.append(codebook, 0.0)) if not np.any(codebook == 0) \
            else codebook
        if len(codebook) > k:                           # drop the codeword nearest to 0
            nearest = np.argmin(np.where(codebook == 0, np.inf, np.abs(codebook)))
            codebook = np.delete(codebook, nearest)
    else:
        codebook = fit_codebook(values, k, "kmeans")
    index = assign(values, codebook).reshape(weights.shape)
    if zero:
        index[0] = int(np.flatnonzero(codebook == 0)[0])
    return codebook, index


def lower(graph, dataset, *, act_levels=None, weight_levels=None):
    """``(model, net, notes)``: the integer model of a float graph calibrated on ``dataset``
    (a :class:`~nomul.models.datasets.Dataset` from a data file), the float network it was
    exported from, and notes."""
    lowering = _Lowering(graph, dataset, act_levels, weight_levels)
    net = lowering.run()
    raw = dataset.x_train.reshape(len(dataset.x_train), *graph.input_shape)
    model = export(net, calibration=raw, agreement=0.9999, margin_bits=2, max_entry_bits=32)
    return model, net, lowering.notes
