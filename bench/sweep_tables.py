# SPDX-License-Identifier: MIT
"""Accuracy versus table size on digits: every recipe over A x K, one command.

Run: ``.venv/bin/python bench/sweep_tables.py [--epochs E] [--seeds N] [--jobs J]``
Writes ``bench/table_sweep.csv`` (one row per recipe, A, K, seed) and ``bench/table_sweep.png``
(integer-reference test accuracy against the largest table's entries, mean over seeds, one line
per recipe, the float model as a dashed line). Settings as ``nomul train --dataset digits``
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


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5))
    for recipe in RECIPES:
        points = {}
        for row in rows:
            if row["recipe"] == recipe:
                key = (row["act_levels"], row["weight_levels"])
                points.setdefault(key, []).append(row)
        if not points:
            continue
        xs = [np.mean([r["max_table_entries"] for r in group]) for group in points.values()]
        ys = [100 * np.mean([r["int_accuracy"] for r in group]) for group in points.values()]
        order = np.argsort(xs)
        axis.plot(np.array(xs)[order], np.array(ys)[order], "o-", label=recipe, alpha=0.8)
    float_accuracy = 100 * np.mean([r["float_accuracy"] for r in rows])
    axis.axhline(float_accuracy, linestyle="--", color="gray", label="float model")
    axis.set_xscale("log")
    axis.set_xlabel("entries of the largest product table (A_in^d x K)")
    axis.set_ylabel("integer-reference test accuracy (%)")
    axis.set_title("digits 64-64-32-10: accuracy vs table size, A in {2,3,4,8,16} x K in "
                   "{2,4,8,16,32}")
    axis.legend()
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "table_sweep")
    args = parser.parse_args()
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
