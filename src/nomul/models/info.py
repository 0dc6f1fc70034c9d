# SPDX-License-Identifier: MIT
"""What an integer model costs in memory and operations (``nomul info``).

Counts per inference: one table lookup and one addition per (output, input group, position);
one comparison per threshold per output (parallel comparators), ``M - 1`` for argmax and
``taps - 1`` per max-pool output; multiplies are always 0. Memory counts the product tables,
weight indices (``ceil(log2 K)`` bits each), biases and thresholds at their proven widths, beside
float32 weights and biases of the same architecture.
"""

import math

from ..numeric import Bounds, index_width
from .bounds import accumulator_width, entry_width
from .spec import WeightedLayer

__all__ = ["model_info"]


def _positions(shape):
    return math.prod(shape[1:]) if len(shape) > 1 else 1


def _weighted_info(layer, in_shape, out_shape):
    positions = _positions(out_shape)
    outputs, groups = layer.out_channels, layer.n_groups
    thresholds = layer.activation.thresholds
    entries = layer.table_rows * layer.n_codewords
    info = {
        "in_levels": layer.in_levels,
        "codewords": layer.n_codewords,
        "group": layer.group,
        "table_rows": layer.table_rows,
        "table_entries": entries,
        "entry_bits": entry_width(layer),
        "accumulator_bits": accumulator_width(layer),
        "activation": layer.activation.kind,
        "out_levels": layer.out_levels,
        "thresholds": None if thresholds is None else thresholds.tolist(),
        "frac_bits": layer.meta.get("frac_bits"),
        "lookups": outputs * groups * positions,
        "additions": outputs * groups * positions,
    }
    if layer.activation.kind == "thresholds":
        info["comparisons"] = thresholds.shape[-1] * outputs * positions
    elif layer.activation.kind == "argmax":
        info["comparisons"] = outputs - 1
    else:
        info["comparisons"] = 0
    bits = {
        "table": entries * info["entry_bits"],
        "weight_index": layer.weight_index.size * index_width(layer.n_codewords),
        "bias": layer.bias.size * Bounds.of(layer.bias).width,
        "thresholds": 0 if thresholds is None else thresholds.size * Bounds.of(thresholds).width,
    }
    info["memory_bits"] = sum(bits.values())
    info["memory_breakdown_bits"] = bits
    info["float32_bits"] = 32 * (outputs * layer.fan_in + outputs)
    return info


def model_info(model):
    """Per-layer and total figures; JSON-ready (plain ints, lists and strings)."""
    layers = []
    spec = model.input
    quantizer_bits = 0 if spec.thresholds is None else spec.thresholds.size * Bounds.of(
        spec.thresholds).width
    totals = {"table_entries": 0, "memory_bits": quantizer_bits, "float32_bits": 0,
              "lookups": 0, "additions": 0,
              "comparisons": 0 if spec.thresholds is None else spec.thresholds.size
              * spec.elements}
    for position, layer in enumerate(model.layers):
        in_shape, out_shape = model.shapes[position], model.shapes[position + 1]
        entry = {"index": position, "kind": layer.kind, "in_shape": list(in_shape),
                 "out_shape": list(out_shape)}
        if isinstance(layer, WeightedLayer):
            entry.update(_weighted_info(layer, in_shape, out_shape))
        else:
            entry.update(comparisons=layer.comparisons(out_shape), memory_bits=0,
                         float32_bits=0, lookups=0, additions=0, table_entries=0)
        for key in totals:
            totals[key] += entry.get(key, 0)
        layers.append(entry)
    return {
        "input": {"shape": list(spec.shape), "raw_min": spec.raw_min, "raw_max": spec.raw_max,
                  "quantizer": spec.quantizer, "levels": spec.levels,
                  "per_feature": spec.per_feature},
        "output": model.output,
        "layers": layers,
        **totals,
        "multiplies": 0,
        "memory_ratio": totals["memory_bits"] / totals["float32_bits"]
        if totals["float32_bits"] else None,
    }
