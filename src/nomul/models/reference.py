# SPDX-License-Identifier: MIT
"""The bit-exact integer reference: the oracle every piece of hardware is compared with.

int64 numpy, vectorized over a batch (axis 0), no floats anywhere. One function per operation:

- :func:`quantize_input`: raw integers -> input indices (identity: ``raw - raw_min``;
  thresholds: count of thresholds met).
- :func:`weighted`: ``acc[o] = bias[o] + sum_g table[address_g][weight_index[o][g]]`` for dense
  and conv layers; a padded conv tap contributes exactly 0.
- :func:`threshold_count`: ``count(acc >= t)``; a value equal to a threshold goes up.
- :func:`argmax`: the largest accumulator, the lowest index on ties.
- :func:`maxpool`, :func:`flatten`.

:func:`run` chains them and optionally returns every layer's accumulators and indices.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .kinds.maxpool import windows as _windows
from .spec import Conv, Dense, IntegerModel

__all__ = [
    "quantize_input",
    "threshold_count",
    "argmax",
    "group_addresses",
    "weighted",
    "maxpool",
    "flatten",
    "patches",
    "LayerTrace",
    "run",
    "predict",
]

PADDED = -1          # index marker of a padded tap inside :func:`patches`
_CHUNK_ELEMENTS = 1 << 22   # bound on the gathered (batch, outputs, groups) block


def threshold_count(acc, thresholds):
    """Number of thresholds each accumulator meets or exceeds (``>=``: ties go up).

    ``acc`` has shape ``(B, C, ...)``; ``thresholds`` is ``(T,)`` shared or ``(C, T)`` per
    channel (axis 1 of ``acc``). Returns int64 indices in ``0..T``.
    """
    acc = np.asarray(acc, dtype=np.int64)
    thresholds = np.asarray(thresholds, dtype=np.int64)
    if thresholds.ndim == 1:
        return np.searchsorted(thresholds, acc, side="right").astype(np.int64)
    # per channel: broadcast (C, T) against (B, C, ..., 1)
    per_channel = thresholds.reshape(thresholds.shape[:1] + (1,) * (acc.ndim - 2)
                                     + thresholds.shape[1:])
    return np.sum(acc[..., None] >= per_channel[None], axis=-1, dtype=np.int64)


def argmax(acc):
    """Index of the largest accumulator along axis 1; ties go to the lowest index."""
    return np.argmax(np.asarray(acc, dtype=np.int64), axis=1).astype(np.int64)


def quantize_input(spec, raw):
    """Raw integer samples ``(B, *spec.shape)`` -> input activation indices.

    Raises :class:`ModelError` for samples outside ``raw_min..raw_max`` or of the wrong shape.
    """
    raw = np.asarray(raw)
    if raw.dtype.kind not in "iu":
        raise ModelError(f"input samples must be integers, not dtype {raw.dtype}")
    raw = raw.astype(np.int64)
    if raw.shape[1:] != spec.shape:
        raise ModelError(f"input samples have shape {raw.shape[1:]}, the model expects "
                         f"{spec.shape}")
    if raw.size and (raw.min() < spec.raw_min or raw.max() > spec.raw_max):
        raise ModelError(f"input samples span {raw.min()}..{raw.max()}, outside the model's raw "
                         f"range {spec.raw_min}..{spec.raw_max}")
    if spec.quantizer == "identity":
        return raw - spec.raw_min
    if spec.per_feature:                 # one threshold row per element, C order
        flat = threshold_count(raw.reshape(len(raw), -1), spec.thresholds)
        return flat.reshape(raw.shape)
    return threshold_count(raw, spec.thresholds)


def group_addresses(indices, in_levels, group):
    """Table addresses of consecutive groups along the last axis (little-endian mixed radix).

    ``indices`` ``(..., n)`` -> ``(..., n // group)``; a group containing a :data:`PADDED`
    tap maps to the extra all-zero row ``in_levels**group`` (only whole groups are padded).
    """
    shape = indices.shape[:-1] + (indices.shape[-1] // group, group)
    digits = indices.reshape(shape)
    weights = np.asarray(in_levels, dtype=np.int64) ** np.arange(group, dtype=np.int64)
    addresses = digits @ weights
    return np.where(np.any(digits == PADDED, axis=-1), in_levels ** group, addresses)


def _lookup_sum(addresses, layer):
    """``bias[o] + sum_g table[addresses[b, g], weight_index[o, g]]`` for ``(B, G)`` addresses."""
    table = np.vstack([layer.table, np.zeros((1, layer.n_codewords), dtype=np.int64)])
    batch, groups = addresses.shape
    outputs = layer.out_channels
    acc = np.empty((batch, outputs), dtype=np.int64)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, outputs * groups))
    for start in range(0, batch, chunk):
        block = addresses[start:start + chunk]
        products = table[block[:, None, :], layer.weight_index[None, :, :]]
        acc[start:start + chunk] = products.sum(axis=2) + layer.bias
    return acc


def patches(indices, kernel, stride, padding):
    """Sliding windows of ``(B, C, *spatial)`` indices, padded taps set to :data:`PADDED`.

    Returns ``(B, P, taps * C)`` with positions ``P`` in C order over the output grid and each
    patch ordered tap-major, channel-minor ``(ky, kx, c)``.
    """
    dims = len(kernel)
    pad = [(0, 0), (0, 0)] + [(p, p) for p in padding]
    windows = _windows(np.pad(indices, pad, constant_values=PADDED), kernel, stride)
    # (B, C, *out, *kernel) -> (B, *out, *kernel, C)
    order = [0, *range(2, 2 + 2 * dims), 1]
    windows = windows.transpose(order)
    batch = windows.shape[0]
    positions = int(np.prod(windows.shape[1:1 + dims]))
    return windows.reshape(batch, positions, -1)


def weighted(indices, layer):
    """Accumulators of a dense ``(B, N) -> (B, M)`` or conv ``(B, C, *S) -> (B, M, *S')`` layer."""
    indices = np.asarray(indices, dtype=np.int64)
    if isinstance(layer, Dense):
        addresses = group_addresses(indices, layer.in_levels, layer.group)
        return _lookup_sum(addresses, layer)
    taps = patches(indices, layer.kernel, layer.stride, layer.padding)
    batch, positions, _ = taps.shape
    addresses = group_addresses(taps, layer.in_levels, layer.group)
    acc = _lookup_sum(addresses.reshape(batch * positions, -1), layer)
    out_spatial = layer.output_shape(indices.shape[1:])[1:]
    return acc.reshape(batch, *out_spatial, layer.out_channels).transpose(
        0, len(out_spatial) + 1, *range(1, len(out_spatial) + 1))


def maxpool(indices, layer):
    """Max of indices over each ``kernel`` window with ``stride`` (floor mode, no padding)."""
    return layer.reference(indices)


def flatten(indices):
    """C-order flatten of ``(B, C, *S)`` to ``(B, C*prod(S))``."""
    return indices.reshape(indices.shape[0], -1)


@dataclass(frozen=True)
class LayerTrace:
    """What one layer computed: accumulators (weighted layers only) and emitted values."""

    acc: np.ndarray | None
    out: np.ndarray


def run(model, raw, *, trace=False):
    """Run raw samples ``(B, *input.shape)`` through ``model``.

    Returns the output (class indices ``(B,)`` for argmax, accumulators for raw); with
    ``trace=True`` returns ``(output, input_indices, [LayerTrace per layer])``.
    """
    if not isinstance(model, IntegerModel):
        raise TypeError(f"expected an IntegerModel, not {type(model).__name__}")
    x = quantize_input(model.input, raw)
    inputs = x
    traces = []
    for layer in model.layers:
        acc = None
        if isinstance(layer, (Dense, Conv)):
            acc = weighted(x, layer)
            kind = layer.activation.kind
            if kind == "thresholds":
                x = threshold_count(acc, layer.activation.thresholds)
            elif kind == "argmax":
                x = argmax(acc)
            else:
                x = acc
        else:                                   # a weightless kind (nomul.models.kinds)
            x = layer.reference(x)
        if trace:
            traces.append(LayerTrace(acc, x))
    return (x, inputs, traces) if trace else x


def predict(model, raw):
    """Class indices for an argmax model (alias of :func:`run` that checks the output kind)."""
    if model.output != "argmax":
        raise ModelError("predict needs an argmax model; this one emits raw accumulators")
    return run(model, raw)
