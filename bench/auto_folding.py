# SPDX-License-Identifier: MIT
"""Automatic folding against FINN's greedy SetFolding on one model.

``python bench/auto_folding.py [MODEL] [--family ice40] [--targets 16,64,...]``: for each target
II, nomul's choice (:func:`nomul.hw.folding.choose_folding`: per layer the cheapest of every
unrolled / PE x SIMD / table-style build meeting the II) and FINN's greedy rule
(:func:`nomul.hw.folding.greedy_folding`: SIMD raised through its divisors, then PE, table style
auto), each lowered whole and estimated (analytical LUT-equivalents, LUTs, block RAMs, the
design's II), with the ratio ours / greedy and the CPU seconds of the choice.
"""

import argparse
import time

import nomul
from nomul.hw.cost import design_cost
from nomul.hw.folding import choose_folding, greedy_folding


def _row(model, choice, family):
    design = nomul.lower(model, choice.options)
    cost = design_cost(design, family)
    folds = " ".join("u" if c.options.arch == "unrolled" else
                     f"{c.options.pe}x{c.options.simd}{(c.options.table_style or 'a')[0]}"
                     for c in choice.layers)
    return design.ii, cost["lut_equivalents"], cost["luts"], cost["brams"], folds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="build/demo/digits.npz")
    parser.add_argument("--family", default="ice40")
    parser.add_argument("--targets", default="1,4,16,64,128,256,512,1024,4096")
    args = parser.parse_args()
    model = nomul.load(args.model)
    print(f"{args.model} on {args.family}: nomul's choice vs FINN's greedy SetFolding "
          f"(LUT-eq = LUTs + block RAM bits / LUT bits); folds per layer: PE x SIMD, "
          f"l(ogic)/b(lock)/a(uto) table, u = unrolled")
    print(f"{'target':>6} | {'II':>5} {'LUT-eq':>7} {'LUTs':>6} {'BRAM':>4} {'folds':<24}"
          f"{'CPU-s':>6} | {'II':>5} {'LUT-eq':>7} {'LUTs':>6} {'BRAM':>4} {'folds':<20}| ratio")
    for target in (int(t) for t in args.targets.split(",")):
        cpu = time.process_time()
        ours = choose_folding(model, target, args.family)
        cpu = time.process_time() - cpu
        a = _row(model, ours, args.family)
        try:
            b = _row(model, greedy_folding(model, target, args.family), args.family)
        except nomul.OptionsError:
            b = None
        left = f"{target:>6} | {a[0]:>5} {a[1]:>7} {a[2]:>6} {a[3]:>4} {a[4]:<24}{cpu:>6.1f}"
        if b is None:
            print(f"{left} | {'greedy folding cannot meet it':<45}|")
        else:
            print(f"{left} | {b[0]:>5} {b[1]:>7} {b[2]:>6} {b[3]:>4} {b[4]:<20}| "
                  f"{a[1] / b[1]:.3f}")


if __name__ == "__main__":
    main()
