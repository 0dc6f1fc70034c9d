# SPDX-License-Identifier: MIT
"""How small can an adder graph of the shared digits model's layers get? Adder bits of every
graph construction tried for issue 15, beside da4ml's own cost of the same layers.

LUTs follow adder bits (Yosys maps an adder of w result bits above its shifted-in low bits to
about w LUTs and a carry chain), so this table is the measured bound behind bench/RESULTS.md's
da4ml comparison: the constructions below are every variant tried, measured, on the same
layers (thresholds folded, so no bias adders). Constructions:

- ``factored`` (nomul's): per output one sum of inputs per slope, pairs shared across all
  sums (most frequent first), then the slopes' signed digits (:mod:`nomul.design.unrolled`);
- ``factored, shuffled``: the same with the inputs renumbered at random (5 seeds): the greedy
  pair order's ties broken differently;
- ``signed slopes``: one bag for slopes ``D`` and ``-D`` (signed leaves);
- ``digits``: every weight's signed digits as terms ``x << s``, one bag per output, pairs
  (with their relative shift) shared: the form da4ml's CSE works on;
- ``column deltas``: each output as a cheaper earlier output plus the difference of their
  weight columns (a minimum spanning tree over the outputs, as da4ml's decomposition stage).

Run: ``.venv/bin/python bench/graph_variants.py [--work DIR]`` (the shared model from
``bench/vs_da4ml.py``'s work directory).
"""

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

import nomul
from nomul.design import unrolled
from nomul.design.graph import Graph, InputLeaf, adder_cost, csd, share_pairs, sum_terms
from nomul.design.lower import _every_position

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vs_da4ml import LAYERS, default_work  # noqa: E402


def _bits(graph):
    return sum(adder_cost(graph, n, node)
               for n, node in enumerate(graph.nodes, start=len(graph.leaves)))


def _slopes(layer, position, shapes):
    """The layer's slope matrix ``S[o][e]`` (its table is linear in the level)."""
    groups, outputs, _, _ = _every_position(layer, shapes[position])
    columns = unrolled.affine_columns(layer.table, range(layer.table.shape[1]))
    slopes = np.zeros((len(outputs), layer.fan_in), dtype=np.int64)
    for o, terms in enumerate(outputs):
        for g, k in terms:
            slopes[o, groups[g][0]] += columns[k][1]
    return slopes


def _factored_bags(vector, signed=False):
    """Bags (one per slope, or per |slope| with signed leaves) and the combination."""
    by_slope = {}
    for e, d in enumerate(vector):
        if d:
            key = abs(int(d)) if signed else int(d)
            by_slope.setdefault(key, []).append((e, 0, 1 if d > 0 or not signed else -1))
    bags, combo = [], []
    for d, bag in sorted(by_slope.items()):
        combo += [(len(bags), shift, sign) for shift, sign in csd(d)]
        bags.append(bag)
    return bags, combo


def factored(slopes, levels, *, signed=False, order=None):
    leaves = [InputLeaf(e, levels) for e in range(slopes.shape[1])]
    if order is not None:                          # renumber the inputs
        slopes = slopes[:, order]
    graph, bags, combos = Graph(leaves), [], []
    for vector in slopes:
        own, combo = _factored_bags(vector, signed)
        combos.append([(len(bags) + b, s, g) for b, s, g in combo])
        bags += own
    sums = [sum_terms(graph, bag) for bag in share_pairs(graph, bags)]
    for combo in combos:
        sum_terms(graph, [(sums[b][0], sums[b][1] + s, sums[b][2] * g) for b, s, g in combo])
    return _bits(graph)


def digits(slopes, levels):
    graph = Graph([InputLeaf(e, levels) for e in range(slopes.shape[1])])
    bags = [[(e, s, g) for e, d in enumerate(vector) for s, g in csd(int(d))]
            for vector in slopes]
    for bag in share_pairs(graph, bags):
        sum_terms(graph, bag)
    return _bits(graph)


def column_deltas(slopes, levels):
    """Outputs in the order of a minimum spanning tree (Prim, from a zero column) over the
    cost of their column differences; each output is its parent plus the difference."""
    def cost(vector):
        values = {abs(int(d)) for d in vector if d}
        return int(np.count_nonzero(vector)) + 1.5 * sum(len(csd(d)) for d in values)

    count = len(slopes)
    parent, best = [-1] * count, [cost(v) for v in slopes]
    done, order = [False] * count, []
    for _ in range(count):
        j = min((b, o) for o, b in enumerate(best) if not done[o])[1]
        done[j] = True
        order.append(j)
        for k in range(count):
            if not done[k] and cost(slopes[k] - slopes[j]) + 1 < best[k]:
                best[k], parent[k] = cost(slopes[k] - slopes[j]) + 1, j
    depth = {}
    for j in order:
        depth[j] = 0 if parent[j] < 0 else depth[parent[j]] + 1
    graph = Graph([InputLeaf(e, levels) for e in range(slopes.shape[1])])
    result = {}
    for level in range(max(depth.values()) + 1):
        members = [j for j in order if depth[j] == level]
        bags, combos = [], []
        for j in members:
            delta = slopes[j] - (slopes[parent[j]] if parent[j] >= 0 else 0)
            own, combo = _factored_bags(delta)
            combos.append([(len(bags) + b, s, g) for b, s, g in combo])
            bags += own
        sums = [sum_terms(graph, bag) for bag in share_pairs(graph, bags)]
        for j, combo in zip(members, combos, strict=True):
            parts = [(sums[b][0], sums[b][1] + s, sums[b][2] * g) for b, s, g in combo
                     if sums[b] is not None]
            if parent[j] >= 0:
                parts.append(result[parent[j]])
            result[j] = sum_terms(graph, parts)
    return _bits(graph)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=default_work())
    args = parser.parse_args()
    model = nomul.load(args.work / "da4ml_digits.npz")
    rows = []
    for position, layer in enumerate(model.layers):
        slopes = _slopes(layer, position, model.shapes)
        levels = layer.in_levels
        rng = random.Random(0)
        shuffled = []
        for _ in range(5):
            order = list(range(slopes.shape[1]))
            rng.shuffle(order)
            shuffled.append(factored(slopes, levels, order=np.array(order)))
        da = json.loads((args.work / "da4ml" / f"{LAYERS[position + 1]}.json").read_text())
        rows.append({"layer": position + 1, "factored": factored(slopes, levels),
                     "factored_shuffled_min": min(shuffled),
                     "factored_shuffled_max": max(shuffled),
                     "signed_slopes": factored(slopes, levels, signed=True),
                     "digits": digits(slopes, levels),
                     "column_deltas": column_deltas(slopes, levels),
                     "da4ml_cost": int(da["cost"])})
        print(json.dumps(rows[-1]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
