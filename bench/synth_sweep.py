# SPDX-License-Identifier: MIT
"""Yosys cost of single dense layers over a grid of table sizes and foldings (estimator data).

Each point is one random dense layer (fixed seed): A input levels, K codewords, table entries of
B bits, N inputs, M outputs, 4 output levels, built unrolled or folded PE x SIMD, synthesized
alone (``nomul.hw.synth.synthesize``) for one family. Writes one CSV row per point with the
configuration, the cell counts, the multiplier count (must be 0) and the synthesis time; the
analytical estimator (issue 6) is calibrated and checked against these rows.

Run: ``.venv/bin/python bench/synth_sweep.py --family ice40 [--check] [--arch A] [--jobs 2]
[-o FILE]`` (``--check``: the held-out points, never used for fitting; ``--arch folded``: only
the folded points, replacing their rows).
"""

import argparse
import csv
import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nomul.design import LayerOptions
from nomul.gateware.network import component
from nomul.hw.cost import reference_plan
from nomul.hw.synth import synthesize
from nomul.hw.verilog import emit_verilog

# (A, K, B, N, M, arch, PE, SIMD)
POINTS = [
    *[(a, k, b, 16, 8, "unrolled", 1, 1)
      for a, k, b in [(2, 2, 4), (2, 4, 6), (4, 4, 8), (4, 8, 8), (4, 16, 10), (8, 8, 10),
                      (8, 16, 12), (16, 8, 12), (16, 16, 14), (3, 5, 7)]],
    (4, 8, 8, 32, 16, "unrolled", 1, 1), (4, 8, 8, 8, 32, "unrolled", 1, 1),
    (2, 4, 6, 64, 8, "unrolled", 1, 1),
    *[(a, k, b, 32, 16, "folded", pe, simd)
      for a, k, b, pe, simd in [(4, 8, 8, 1, 1), (4, 8, 8, 2, 4), (4, 8, 8, 4, 8),
                                (4, 8, 8, 16, 32), (2, 4, 6, 2, 2), (8, 16, 12, 2, 4),
                                (16, 16, 14, 1, 2), (16, 32, 16, 2, 2), (8, 8, 10, 8, 8),
                                (4, 4, 8, 4, 16), (3, 5, 7, 1, 4), (16, 8, 12, 4, 4)]],
    *[(a, k, b, 64, 64, "folded", pe, simd)
      for a, k, b, pe, simd in [(4, 8, 8, 1, 1), (4, 8, 8, 2, 8), (16, 16, 14, 4, 4),
                                (32, 32, 16, 1, 1), (64, 32, 16, 2, 2), (64, 64, 18, 1, 1)]],
]
# more fitting points, added after the first check: more outputs and thresholds per layer, and
# deeper weight ROMs left to logic (the check set stays untouched)
POINTS += [
    *[(a, k, b, n, m, "unrolled", 1, 1)
      for a, k, b, n, m in [(4, 4, 8, 16, 32), (8, 8, 10, 8, 24), (2, 8, 6, 24, 16),
                            (16, 8, 12, 12, 12), (4, 16, 10, 32, 8), (3, 8, 7, 16, 16),
                            (8, 2, 8, 16, 8), (4, 4, 6, 40, 16)]],
    *[(a, k, b, n, m, "folded", pe, simd)
      for a, k, b, n, m, pe, simd in [
          (4, 8, 8, 64, 32, 1, 4), (2, 4, 6, 64, 64, 2, 2), (8, 16, 12, 64, 16, 1, 2),
          (4, 4, 6, 96, 32, 2, 8), (16, 4, 12, 32, 32, 4, 2), (3, 4, 6, 64, 32, 1, 8),
          (8, 8, 10, 32, 64, 8, 4), (4, 16, 10, 128, 16, 2, 4)]],
]
# held-out points (none of them in POINTS): the estimator is fitted on POINTS and checked here
CHECK_POINTS = [
    *[(a, k, b, n, m, "unrolled", 1, 1)
      for a, k, b, n, m in [(2, 8, 6, 16, 8), (4, 2, 6, 16, 16), (8, 4, 9, 8, 8),
                            (5, 8, 8, 16, 8), (16, 4, 10, 8, 16), (4, 32, 12, 16, 8),
                            (2, 16, 8, 32, 8), (8, 32, 14, 8, 8), (3, 3, 5, 24, 12),
                            (4, 8, 10, 48, 8), (32, 8, 12, 8, 4), (6, 6, 8, 12, 6)]],
    *[(a, k, b, n, m, "folded", pe, simd)
      for a, k, b, n, m, pe, simd in [
          (4, 8, 8, 16, 16, 2, 2), (2, 2, 4, 32, 16, 1, 1), (8, 8, 10, 64, 32, 2, 4),
          (4, 16, 10, 32, 32, 4, 4), (16, 16, 14, 32, 8, 1, 8), (3, 5, 7, 48, 16, 2, 8),
          (8, 32, 14, 32, 16, 1, 1), (32, 16, 16, 32, 16, 2, 1), (16, 64, 16, 32, 16, 1, 2),
          (2, 4, 6, 128, 32, 1, 16), (4, 8, 8, 128, 64, 1, 1), (4, 4, 6, 64, 16, 8, 2),
          (8, 4, 10, 16, 64, 4, 1), (5, 8, 9, 40, 20, 5, 5), (64, 16, 16, 32, 32, 1, 1),
          (16, 8, 12, 64, 64, 2, 16), (4, 2, 6, 32, 8, 8, 32), (32, 64, 18, 16, 16, 2, 2)]],
]
COLUMNS = ("A", "K", "B", "N", "M", "arch", "PE", "SIMD", "luts", "ffs", "carry", "brams",
           "dsps", "gates", "lutram", "muxes", "multipliers", "seconds")


def synthesize_point(point, family, work):
    a, k, b, n, m, arch, pe, simd = point
    dut = reference_plan(a, k, b, n, m, LayerOptions(arch=arch, pe=pe, simd=simd))
    name = "layer"
    directory = Path(work) / "_".join(map(str, point))
    directory.mkdir(parents=True)
    (directory / "layer.v").write_text(emit_verilog(component(dut), name))
    start = time.perf_counter()
    report = synthesize(directory / "layer.v", name, family, directory / "yosys")
    seconds = time.perf_counter() - start
    return dict(zip(COLUMNS, point, strict=False)) | {c: report[c] for c in COLUMNS[8:-1]} \
        | {"seconds": round(seconds, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="ice40")
    parser.add_argument("--extra", action="store_true",
                        help="only the points after the first 31, appended to the sweep CSV")
    parser.add_argument("--check", action="store_true",
                        help="the held-out CHECK_POINTS (default CSV bench/synth_check_FAMILY.csv)")
    parser.add_argument("--arch", choices=("unrolled", "folded"),
                        help="only the points of this architecture; the CSV's other rows stay")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-o", "--output", help="CSV (default bench/synth_sweep_FAMILY.csv)")
    args = parser.parse_args()
    points = CHECK_POINTS if args.check else POINTS[31:] if args.extra else POINTS
    stem = "synth_check" if args.check else "synth_sweep"
    output = Path(args.output or Path(__file__).with_name(f"{stem}_{args.family}.csv"))
    print(f"machine: {platform.machine()}, python {platform.python_version()}; "
          f"{len(points)} layers for {args.family}")
    order = {tuple(map(str, p)): n for n, p in enumerate(points)}
    kept = []
    if args.arch:
        points = [p for p in points if p[5] == args.arch]
        if output.exists():
            with open(output, newline="") as handle:
                kept = [row for row in csv.DictReader(handle) if row["arch"] != args.arch]
    with tempfile.TemporaryDirectory() as work, \
            ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(lambda p: synthesize_point(p, args.family, work), points))
    with open(output, "a" if args.extra else "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if not args.extra:
            writer.writeheader()
        writer.writerows(sorted(kept + rows,
                                key=lambda row: order[tuple(str(row[c]) for c in COLUMNS[:8])]))
    for row in rows:
        print(" ".join(f"{k}={row[k]}" for k in COLUMNS))
    print(f"wrote {output}; synthesis {sum(r['seconds'] for r in rows):.0f} s in total, "
          f"{sum(r['multipliers'] for r in rows)} multipliers")


if __name__ == "__main__":
    main()
