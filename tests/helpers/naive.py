# SPDX-License-Identifier: MIT
"""A deliberately naive, loop-per-element implementation of the integer semantics.

Written from docs/architecture.md independently of ``nomul.models.reference`` (no shared helpers,
plain Python ints), so that the vectorized reference is checked against first principles.
"""

import itertools

import numpy as np

from nomul.models.spec import Conv, Dense, Flatten, MaxPool


def dense(x, layer):
    """x: 1-D list of indices -> list of accumulators."""
    accs = []
    for o in range(layer.out_channels):
        acc = int(layer.bias[o])
        for g in range(layer.n_groups):
            digits = x[g * layer.group:(g + 1) * layer.group]
            address = sum(int(v) * layer.in_levels ** j for j, v in enumerate(digits))
            acc += int(layer.table[address, layer.weight_index[o, g]])
        accs.append(acc)
    return accs


def conv(x, layer):
    """x: array (C, *spatial) of indices -> array (M, *out) of accumulators."""
    x = np.asarray(x)
    dims = len(layer.kernel)
    spatial = x.shape[1:]
    out_sizes = [(n + 2 * p - k) // s + 1 for n, k, s, p in
                 zip(spatial, layer.kernel, layer.stride, layer.padding)]
    acc = np.zeros((layer.out_channels, *out_sizes), dtype=object)
    for out_pos in itertools.product(*(range(n) for n in out_sizes)):
        patch = []
        for tap in itertools.product(*(range(k) for k in layer.kernel)):
            where = [o * s - p + t for o, s, p, t in
                     zip(out_pos, layer.stride, layer.padding, tap)]
            inside = all(0 <= w < n for w, n in zip(where, spatial))
            for c in range(x.shape[0]):
                patch.append(int(x[(c, *where)]) if inside else None)
        for o in range(layer.out_channels):
            total = int(layer.bias[o])
            for g in range(layer.n_groups):
                digits = patch[g * layer.group:(g + 1) * layer.group]
                if any(v is None for v in digits):
                    assert all(v is None for v in digits), "partially padded group"
                    continue
                address = sum(v * layer.in_levels ** j for j, v in enumerate(digits))
                total += int(layer.table[address, layer.weight_index[o, g]])
            acc[(o, *out_pos)] = total
    assert dims == len(out_sizes)
    return acc


def maxpool(x, layer):
    x = np.asarray(x)
    out_sizes = [(n - k) // s + 1 for n, k, s in zip(x.shape[1:], layer.kernel, layer.stride)]
    out = np.zeros((x.shape[0], *out_sizes), dtype=object)
    for c in range(x.shape[0]):
        for pos in itertools.product(*(range(n) for n in out_sizes)):
            best = None
            for tap in itertools.product(*(range(k) for k in layer.kernel)):
                value = int(x[(c, *[p * s + t for p, s, t in zip(pos, layer.stride, tap)])])
                best = value if best is None else max(best, value)
            out[(c, *pos)] = best
    return out


def activate(acc, layer):
    """Apply a weighted layer's activation to accumulators (channel on axis 0)."""
    acc = np.asarray(acc, dtype=object)
    kind = layer.activation.kind
    if kind == "raw":
        return acc
    if kind == "argmax":
        values = [int(v) for v in acc]
        best = 0
        for i, v in enumerate(values):       # strictly greater: ties keep the lowest index
            if v > values[best]:
                best = i
        return best
    out = np.zeros(acc.shape, dtype=object)
    for index in itertools.product(*(range(n) for n in acc.shape)):
        row = layer.activation.thresholds
        row = row[index[0]] if layer.activation.per_output else row
        out[index] = sum(1 for t in row if int(acc[index]) >= int(t))
    return out


def quantize(spec, raw):
    raw = np.asarray(raw)
    out = np.zeros(raw.shape, dtype=object)
    for index in itertools.product(*(range(n) for n in raw.shape)):
        value = int(raw[index])
        if spec.quantizer == "identity":
            out[index] = value - spec.raw_min
        else:                           # per-feature rows follow the element's C-order place
            element = int(np.ravel_multi_index(index, raw.shape))     # one sample
            row = spec.thresholds[element] if spec.thresholds.ndim == 2 else spec.thresholds
            out[index] = sum(1 for t in row if value >= int(t))
    return out


def run_one(model, raw):
    """One sample through the model, returning (output, [acc or None per layer])."""
    x = quantize(model.input, raw)
    accs = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            acc = np.array(dense(list(x), layer), dtype=object)
            accs.append(acc)
            x = activate(acc, layer)
        elif isinstance(layer, Conv):
            acc = conv(x, layer)
            accs.append(acc)
            x = activate(acc, layer)
        elif isinstance(layer, MaxPool):
            x = maxpool(x, layer)
            accs.append(None)
        elif isinstance(layer, Flatten):
            x = np.asarray(x).reshape(-1)
            accs.append(None)
    return x, accs
