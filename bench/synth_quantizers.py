# SPDX-License-Identifier: MIT
"""Yosys cost of input quantizers (estimator data for the ``step`` feature).

Each point is one :class:`~nomul.design.plans.QuantizerPlan` of 32 samples with
thresholds drawn at random (fixed seed) inside the raw range, synthesized alone
(``nomul.hw.synth.synthesize``) for one family. The first 20 points read a table of raw
codes (``style == "lookup"``, at most ``LOOKUP_MAX_TABLE_BITS``), the last 12 compare (wider
samples, or too many thresholds). Rows marked ``fit`` calibrate the estimator's ``step``
(lookup) and ``sample_*`` (compare) coefficients (``bench/fit_estimator.py``); rows marked
``check`` are held out. Writes ``bench/synth_quantizers_FAMILY.csv``.

Run: ``.venv/bin/python bench/synth_quantizers.py --family ice40 [--style S] [--jobs 2]``
(``--style compare``: only those points, the file's other rows kept).
"""

import argparse
import csv
import platform
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from nomul.design.plans import QuantizerPlan
from nomul.errors import ToolError
from nomul.gateware.network import component
from nomul.hw.synth import synthesize
from nomul.hw.verilog import emit_verilog

ELEMENTS = 32
# quantizers built only to read their style or features are never elaborated
warnings.filterwarnings("ignore", message=".*created but never used")
# (split, raw_min, raw_max, thresholds, seed)
POINTS = [
    ("fit", 0, 16, 4, 0), ("fit", 0, 7, 2, 1), ("fit", 0, 15, 7, 2), ("fit", -16, 15, 3, 3),
    ("fit", 0, 63, 7, 4), ("fit", -32, 31, 15, 5), ("fit", 0, 127, 3, 6),
    ("fit", -64, 63, 7, 7), ("fit", 0, 255, 15, 8), ("fit", -128, 127, 7, 9),
    ("fit", 0, 255, 1, 10), ("fit", -64, 63, 31, 11),
    ("check", 0, 16, 7, 20), ("check", 0, 31, 3, 21), ("check", -8, 7, 4, 22),
    ("check", 0, 63, 15, 23), ("check", -64, 63, 3, 24), ("check", 0, 200, 7, 25),
    ("check", -128, 127, 15, 26), ("check", 0, 255, 5, 27),
    # tables over LOOKUP_MAX_TABLE_BITS: comparators (wide sensor samples)
    ("fit", 0, 1023, 3, 30), ("fit", -512, 511, 7, 31), ("fit", 0, 4095, 1, 32),
    ("fit", -2048, 2047, 15, 33), ("fit", 0, 65535, 3, 34), ("fit", -32768, 32767, 7, 35),
    ("fit", 0, 255, 31, 36), ("fit", -1024, 1023, 5, 37),
    ("check", 0, 2047, 7, 40), ("check", -4096, 4095, 3, 41), ("check", 0, 16383, 15, 42),
    ("check", -32768, 32767, 1, 43),
]
COLUMNS = ("split", "elements", "raw_min", "raw_max", "thresholds", "style", "luts", "ffs",
           "carry", "brams", "gates", "seconds")


def quantizer(raw_min, raw_max, count, seed):
    """The point's quantizer: ``count`` thresholds drawn in ``raw_min + 1 .. raw_max``."""
    rng = np.random.default_rng(seed)
    thresholds = np.sort(rng.integers(raw_min + 1, raw_max + 1, count))
    return QuantizerPlan(ELEMENTS, raw_min, raw_max, thresholds.tolist())


def from_row(row):
    """The quantizer of a CSV row."""
    return QuantizerPlan(int(row["elements"]), int(row["raw_min"]), int(row["raw_max"]),
                         [int(t) for t in row["thresholds"].split()])


def synthesize_point(point, family, work):
    split, raw_min, raw_max, count, seed = point
    dut = quantizer(raw_min, raw_max, count, seed)
    directory = Path(work) / "_".join(map(str, point))
    directory.mkdir(parents=True)
    (directory / "q.v").write_text(emit_verilog(component(dut), "quantizer"))
    start = time.perf_counter()
    try:
        report = synthesize(directory / "q.v", "quantizer", family, directory / "yosys")
    except ToolError as error:         # e.g. Yosys left outputs undriven: no counts (-1)
        print(f"{point}: {error}")
        report = dict.fromkeys(("luts", "ffs", "carry", "brams", "gates"), -1)
    seconds = time.perf_counter() - start
    return {"split": split, "elements": ELEMENTS, "raw_min": raw_min, "raw_max": raw_max,
            "thresholds": " ".join(map(str, dut.thresholds)), "style": dut.style,
            **{c: report[c] for c in ("luts", "ffs", "carry", "brams", "gates")},
            "seconds": round(seconds, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="ice40")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--style", choices=("lookup", "compare"),
                        help="only the points of this style; the CSV's other rows stay")
    args = parser.parse_args()
    output = Path(__file__).with_name(f"synth_quantizers_{args.family}.csv")
    points, kept = POINTS, []
    if args.style:
        points = [p for p in POINTS if quantizer(*p[1:]).style == args.style]
        if output.exists():
            with open(output, newline="") as handle:
                kept = [r for r in csv.DictReader(handle) if r["style"] != args.style]
    print(f"machine: {platform.machine()}, python {platform.python_version()}; "
          f"{len(points)} quantizers for {args.family}")
    with tempfile.TemporaryDirectory() as work, \
            ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(lambda p: synthesize_point(p, args.family, work), points))
    order = {(str(p[1]), str(p[2]), str(quantizer(*p[1:]).thresholds)): n
             for n, p in enumerate(POINTS)}

    def position(row):
        thresholds = tuple(int(t) for t in str(row["thresholds"]).split())
        return order[(str(row["raw_min"]), str(row["raw_max"]), str(thresholds))]

    with open(output, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(kept + rows, key=position))
    for row in rows:
        print(" ".join(f"{k}={row[k]}" for k in COLUMNS))
    print(f"wrote {output}; synthesis {sum(r['seconds'] for r in rows):.0f} s in total")


if __name__ == "__main__":
    main()
