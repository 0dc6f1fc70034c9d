# SPDX-License-Identifier: MIT
"""Accuracy of trained integer models against their float models (issue 3's figures).

Run: ``.venv/bin/python bench/accuracy.py [--only NAME] [--jobs 2]``. Each configuration is
trained with seeds 0, 1, 2 (the same as ``nomul train ... --seed S``); prints the mean float,
float-simulated quantized and integer-reference test accuracy, the gap, the largest table and
the training time per run, and appends the rows to ``bench/accuracy.csv``.
"""

import argparse
import csv
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

CONFIGS = {
    # name: (dataset, TrainConfig keywords); the command line is the same with --flags
    "digits-tbnu-A5-K8": ("digits", dict(arch="64-64-32-10", recipe="tbnu", act_levels=5,
                                         weight_levels=8, nonlinearity="clipped_relu")),
    "digits-tbnu-A5-K8-htanh": ("digits", dict(arch="64-64-32-10", recipe="tbnu",
                                               act_levels=5, weight_levels=8)),
    "digits-nmnf-A5-K8": ("digits", dict(arch="64-64-32-10", recipe="nmnf", act_levels=5,
                                         weight_levels=8, per_layer=True,
                                         nonlinearity="clipped_relu")),
    "digits-tbnu-A16-K16": ("digits", dict(arch="64-64-32-10", recipe="tbnu", act_levels=16,
                                           weight_levels=16, nonlinearity="clipped_relu")),
    "digits-nmnf-A16-K16": ("digits", dict(arch="64-64-32-10", recipe="nmnf", act_levels=16,
                                           weight_levels=16, per_layer=True,
                                           nonlinearity="clipped_relu")),
    "mnist1d-tbnu-A8-K4,8": ("mnist1d", dict(arch="1x40-c32k5p2-m2-c32k3p1-m2-64-10",
                                             recipe="tbnu", act_levels=8, input_levels=16,
                                             weight_levels=(4, 8, 8, 8), epochs=40,
                                             nonlinearity="relu6")),
}


def run_one(job):
    from nomul.models.datasets import load_dataset
    from nomul.models.info import model_info
    from nomul.models.training.trainer import TrainConfig, train

    name, seed = job
    dataset, options = CONFIGS[name]
    start = time.perf_counter()
    result = train(load_dataset(dataset), TrainConfig(seed=seed, **options))
    info = model_info(result.model)
    return {"name": name, "seed": seed, "float": result.float_accuracy,
            "quantized": result.quantized_accuracy, "int": result.int_accuracy,
            "agreement": result.agreement,
            "max_table_entries": max(layer["table_entries"] for layer in info["layers"]),
            "seconds": time.perf_counter() - start}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(CONFIGS))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    names = args.only or list(CONFIGS)
    jobs = [(name, seed) for name in names for seed in (0, 1, 2)]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run_one, jobs))
    with open(HERE / "accuracy.csv", "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        if handle.tell() == 0:
            writer.writeheader()
        writer.writerows(rows)
    print(f"{'config':22} {'float':>7} {'quant':>7} {'int':>7} {'gap':>6} {'agree':>7} "
          f"{'table':>6} {'s/run':>6}")
    for name in names:
        mine = [row for row in rows if row["name"] == name]
        mean = {key: np.mean([row[key] for row in mine]) for key in
                ("float", "quantized", "int", "agreement", "seconds")}
        print(f"{name:22} {100 * mean['float']:7.2f} {100 * mean['quantized']:7.2f} "
              f"{100 * mean['int']:7.2f} {100 * (mean['float'] - mean['int']):6.2f} "
              f"{100 * mean['agreement']:7.2f} {mine[0]['max_table_entries']:6d} "
              f"{mean['seconds']:6.1f}")


if __name__ == "__main__":
    main()
