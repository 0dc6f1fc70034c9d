# SPDX-License-Identifier: MIT
"""Real MNIST (issue 17): the trained configurations of bench/RESULTS.md, one at a time.

Run: ``.venv/bin/python bench/mnist_accuracy.py [--only NAME ...] [--seed S] [--save-dir DIR]``
(needs ``nomul[mnist]``). Each configuration is trained with seed S (default 0) on one BLAS
thread, exactly as ``nomul train --dataset mnist --arch ARCH --recipe R --act-levels A
--weight-levels K --epochs E --nonlinearity relu6 --seed S --threads 1`` would (the same model
file, byte for byte); prints the float, float-simulated quantized and integer-reference test
accuracy (1000 samples, 100 per digit), their agreement, and the CPU seconds (user + sys of
this process) and wall seconds the training call took. ``--json``: one object per line, with
the largest product table and the memory in bits too. ``--save-dir`` writes each model as
``DIR/NAME.npz``.

``--cost MODEL``: instead, the analytical iCE40 cost of MODEL built as each of :data:`BUILDS`
(the same figures as ``nomul estimate MODEL --family ice40 --json`` with those build options,
from one lowering per build) with the design's latency and II in cycles. The unrolled build of
the default architecture takes 15 to 17 minutes and 7 to 15 GB to lower (every output position of
every convolution gets its own adder graph); the folded ones take a second.
"""

import argparse
import json
import time
from pathlib import Path

ARCH = "1x28x28-c8k3p1-m2-c16k3p1-m2-64-10"
CONFIGS = {
    # name: TrainConfig keywords (all with nonlinearity relu6, threads 1)
    "tbnu-A4-K8": dict(arch=ARCH, recipe="tbnu", act_levels=4, weight_levels=8, epochs=15),
    "tbnu-A8-K16": dict(arch=ARCH, recipe="tbnu", act_levels=8, weight_levels=16, epochs=15),
    "nmnf-A4-K8": dict(arch=ARCH, recipe="nmnf", act_levels=4, weight_levels=8, epochs=15),
    "wide-tbnu-A4-K8": dict(arch="1x28x28-c16k3p1-m2-c32k3p1-m2-64-10", recipe="tbnu",
                            act_levels=4, weight_levels=8, epochs=20),
    "pooled-tbnu-A4-K8": dict(arch="1x28x28-m2-c8k3p1-m2-c16k3p1-m2-32-10", recipe="tbnu",
                              act_levels=4, weight_levels=8, epochs=15),
}

BUILDS = {
    # name: the nomul estimate / nomul build options
    "unrolled": [],
    "folded PE1xSIMD1": ["--arch", "folded", "--pe", "1", "--simd", "1"],
    "folded PE4,4,8,2xSIMD9,8,16,8": ["--arch", "folded", "--pe", "4,4,8,2",
                                      "--simd", "9,8,16,8"],
}


def cost(path, builds, family="ice40"):
    """``{build: {luts, ffs, carry, brams, fits, latency, ii, stages}}`` of the model file."""
    import nomul
    from nomul.cli import build_parser
    from nomul.cli._common import build_options

    model = nomul.load(path)
    parser = build_parser()
    rows = {}
    for name in builds:
        args = parser.parse_args(["estimate", str(path), "--family", family, *BUILDS[name]])
        wall = time.perf_counter()
        design = nomul.lower(model, build_options(args, model))
        report = nomul.estimate(design, family=family)
        rows[name] = {key: report[key] for key in ("luts", "ffs", "carry", "brams", "fits")}
        rows[name].update(latency=design.latency, ii=design.ii,
                          seconds=round(time.perf_counter() - wall, 1),
                          stages={st["stage"]: [st["luts"], st["ffs"], st["brams"]]
                                  for st in report["stages"]})
        print(json.dumps({"build": name, **rows[name]}), flush=True)
    return rows


def run_one(name, dataset, save_dir=None, seed=0):
    import nomul
    from nomul.models.info import model_info
    from nomul.models.training.trainer import TrainConfig

    config = TrainConfig(nonlinearity="relu6", seed=seed, threads=1, **CONFIGS[name])
    wall, cpu = time.perf_counter(), time.process_time()
    result = nomul.train(dataset, config)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if save_dir is not None:
        nomul.save(result.model, Path(save_dir) / f"{name}.npz")
    info = model_info(result.model)
    return {"name": name, "seed": seed, "float": result.float_accuracy,
            "quantized": result.quantized_accuracy,
            "int": result.int_accuracy, "agreement": result.agreement,
            "max_table_entries": max(layer.get("table_entries", 0) for layer in info["layers"]),
            "memory_bits": info["memory_bits"], "cpu_seconds": round(cpu, 1),
            "wall_seconds": round(wall, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(CONFIGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-dir", help="write each model as DIR/NAME.npz")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--cost", metavar="MODEL", help="cost MODEL instead of training")
    parser.add_argument("--build", action="append", choices=list(BUILDS),
                        help="with --cost: only these builds (default all)")
    args = parser.parse_args()
    if args.cost:
        cost(args.cost, args.build or list(BUILDS))
        return
    import nomul

    dataset = nomul.load_dataset("mnist")
    if args.save_dir:
        Path(args.save_dir).mkdir(parents=True, exist_ok=True)
    if not args.json:
        print(f"{'name':18} {'float':>6} {'quant':>6} {'int':>6} {'agree':>6} {'CPU-s':>7} "
              f"{'wall-s':>7}")
    for name in args.only or CONFIGS:
        row = run_one(name, dataset, args.save_dir, args.seed)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(f"{name:18} {100 * row['float']:6.1f} {100 * row['quantized']:6.1f} "
                  f"{100 * row['int']:6.1f} {100 * row['agreement']:6.1f} "
                  f"{row['cpu_seconds']:7.1f} {row['wall_seconds']:7.1f}", flush=True)


if __name__ == "__main__":
    main()
