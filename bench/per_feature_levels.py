# SPDX-License-Identifier: MIT
"""Per-feature input thresholds against one shared set, on a data file of mixed units.

``python bench/per_feature_levels.py [FILE] [--seeds N]``: trains the same network (tbnu,
A=4, K=8, default epochs) on FILE (default ``examples/wine.csv``: 13 measurements from 0.1 to
1680) three ways and prints the integer test accuracy per seed and the mean:

- ``per-feature``: each feature its own 16 levels over its training range (``--data``'s
  default);
- ``shared``: the same 16 levels for every feature, evenly spaced over the 8-bit codes
  -128..127 (what one raw range and one set of thresholds for all features gives);
- ``shared-fitted``: one set of 15 thresholds fitted to all features' codes pooled (the
  quantiles of every training code).
"""

import argparse
import dataclasses
import time

import numpy as np

import nomul
from nomul.models.spec import InputSpec

LEVELS = 16


def _shared(dataset, thresholds):
    spec = InputSpec(shape=dataset.input.shape, raw_min=dataset.input.raw_min,
                     raw_max=dataset.input.raw_max, quantizer="thresholds",
                     thresholds=np.asarray(thresholds, dtype=np.int64))
    return dataclasses.replace(dataset, input=spec)


def variants(path):
    dataset = nomul.load_data(path, input_levels=LEVELS)
    lo, hi = dataset.input.raw_min, dataset.input.raw_max
    even = [int(np.ceil(lo + k * (hi - lo) / LEVELS)) for k in range(1, LEVELS)]
    pooled = np.quantile(dataset.x_train.ravel(), np.arange(1, LEVELS) / LEVELS)
    return {"per-feature": dataset, "shared": _shared(dataset, even),
            "shared-fitted": _shared(dataset, np.maximum.accumulate(np.ceil(pooled)))}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file", nargs="?", default="examples/wine.csv")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    start, cpu = time.perf_counter(), time.process_time()
    print(f"{args.file}: integer test accuracy, tbnu A=4 K=8, {LEVELS} input levels")
    for name, dataset in variants(args.file).items():
        scores = [nomul.train(dataset, arch=f"{dataset.input.elements}-64-32-"
                              f"{dataset.classes}", recipe="tbnu", act_levels=4,
                              weight_levels=8, epochs=60, seed=seed).int_accuracy
                  for seed in range(args.seeds)]
        print(f"  {name:14s} mean {100 * np.mean(scores):6.2f} %   "
              + " ".join(f"{100 * s:.1f}" for s in scores))
    print(f"wall {time.perf_counter() - start:.1f} s, CPU {time.process_time() - cpu:.1f} s")


if __name__ == "__main__":
    main()
