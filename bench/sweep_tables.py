# SPDX-License-Identifier: MIT
"""Accuracy versus table size on digits: every recipe over A x K, one command.

Run: ``.venv/bin/python bench/sweep_tables.py [--epochs E] [--seeds N] [--jobs J]``
Writes ``bench/table_sweep.csv`` (one row per recipe, A, K, seed) and ``bench/table_sweep.png``
(integer-reference test accuracy against the product-table entries of all layers, mean over
seeds; each recipe's configurations as dots and its best-per-size front as a line; the float
model as a dashed line). Settings as ``nomul train --dataset digits``
(clipped ReLU, 60 epochs); nmnf with per-layer codebooks, pq with group d = 2, wage with its own
hard-tanh grid.
"""

import argparse
import csv
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ACT_LEVELS = (2, 3, 4, 8, 16)
WEIGHT_LEVELS = (2, 4, 8, 16, 32)
RECIPES = ("nmnf", "tbnu", "wage", "pq")
HERE = Path(__file__).resolve().parent
FIELDS = ("recipe", "act_levels", "weight_levels", "group", "seed", "max_table_entries",
          "table_entries", "memory_bits", "float_accuracy", "quantized_accuracy",
          "int_accuracy", "agreement", "seconds")


def run_one(job):
    from nomul.models.datasets import load_dataset
    from nomul.models.info import model_info
    from nomul.models.training.trainer import TrainConfig, train

    recipe, act_levels, weight_levels, seed, epochs = job
    group = 2 if recipe == "pq" else 1
    start = time.perf_counter()
    result = train(load_dataset("digits"), TrainConfig(
        arch="64-64-32-10", recipe=recipe, act_levels=act_levels, weight_levels=weight_levels,
        group=group, seed=seed, epochs=epochs, nonlinearity="clipped_relu",
        per_layer=recipe == "nmnf"))
    info = model_info(result.model)
    return {"recipe": recipe, "act_levels": act_levels, "weight_levels": weight_levels,
            "group": group, "seed": seed,
            "max_table_entries": max(layer["table_entries"] for layer in info["layers"]),
            "table_entries": info["table_entries"], "memory_bits": info["memory_bits"],
            "float_accuracy": result.float_accuracy,
            "quantized_accuracy": result.quantized_accuracy,
            "int_accuracy": result.int_accuracy, "agreement": result.agreement,
            "seconds": round(time.perf_counter() - start, 1)}


def _pareto(points):
    """Points not beaten by a smaller table with at least the same accuracy, by size."""
    front, best = [], -1.0
    for x, y in sorted(points):
        if y > best:
            front.append((x, y))
            best = y
    return front


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5))
    for recipe, colour in zip(RECIPES, ("C0", "C1", "C2", "C3"), strict=True):
        runs = {}
        for row in rows:
            if row["recipe"] == recipe:
                runs.setdefault((row["act_levels"], row["weight_levels"]), []).append(row)
        if not runs:
            continue
        points = [(float(np.mean([r["table_entries"] for r in group])),
                   100 * float(np.mean([r["int_accuracy"] for r in group])))
                  for group in runs.values()]
        xs, ys = zip(*points, strict=True)
        axis.scatter(xs, ys, color=colour, alpha=0.35, s=18)
        front = _pareto(points)
        axis.plot(*zip(*front, strict=True), "o-", color=colour, label=f"{recipe} (best per size)")
    float_accuracy = 100 * np.mean([r["float_accuracy"] for r in rows])
    axis.axhline(float_accuracy, linestyle="--", color="gray", label="float model")
    axis.set_xscale("log")
    axis.set_ylim(max(0, min(r["int_accuracy"] for r in rows) * 100 - 2), 100)
    axis.set_xlabel("product-table entries, all layers")
    axis.set_ylabel("integer-reference test accuracy (%)")
    axis.set_title("digits 64-64-32-10, A in {2,3,4,8,16} x K in {2,4,8,16,32}")
    axis.legend(loc="lower right")
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def _read_csv(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in FIELDS[1:]:
            row[key] = float(row[key])
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "table_sweep")
    parser.add_argument("--plot-only", action="store_true",
                        help="redraw the PNG from an existing CSV")
    args = parser.parse_args()
    if args.plot_only:
        plot(_read_csv(args.out.with_suffix(".csv")), args.out.with_suffix(".png"))
        return
    jobs = [(recipe, a, k, seed, args.epochs) for recipe, a, k, seed in
            itertools.product(RECIPES, ACT_LEVELS, WEIGHT_LEVELS, range(args.seeds))]
    rows = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for row in pool.map(run_one, jobs):
            rows.append(row)
            print(",".join(str(row[f]) for f in FIELDS), flush=True)
    with open(args.out.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.csv')} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
