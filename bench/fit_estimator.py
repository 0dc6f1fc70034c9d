# SPDX-License-Identifier: MIT
"""Fit the analytical estimator's coefficients to Yosys, then check them on held-out layers.

For each family, every row of ``bench/synth_sweep_FAMILY.csv`` is rebuilt (the same seeded
layer as ``bench/synth_sweep.py``), its features computed (``nomul.hw.estimate``), and the
coefficients turning features into LUTs (gates), FFs and carry cells fitted by non-negative
least squares on relative error. The fitted model is then run on ``bench/synth_check_FAMILY.csv``
(layers never used for fitting): per point the estimated and synthesized counts, and per family
the share of points with LUTs within +-20 % and block RAMs exact. Writes
``src/nomul/hw/estimate_coefficients.json`` (coefficients and the check's figures) and
``bench/estimate_check.csv``; prints a summary table and the speed ratio against synthesis.

The input quantizer's features (``step`` for its table of raw codes, ``sample_compare`` and
``sample_count`` for its comparator form) are fitted apart, on the ``fit`` rows of
``bench/synth_quantizers_FAMILY.csv`` (quantizers synthesized alone; no layer row has one), and
checked on that file's ``check`` rows, per form.

For the gate-level family, "LUTs" are its 2-input gate count throughout.

Run: ``.venv/bin/python bench/fit_estimator.py`` (after the sweeps; a few seconds).
"""

import csv
import json
import platform
import time
from pathlib import Path

import numpy as np
from scipy.optimize import nnls
from synth_quantizers import from_row as quantizer_from_row

from nomul.design import LayerOptions
from nomul.hw.cost import reference_plan
from nomul.hw.estimate import FAMILIES, LUT_INPUTS, cells_from_features, mapped_features
from nomul.hw.toolchain import logic_key

HERE = Path(__file__).parent
COEFFICIENTS = HERE.parent / "src" / "nomul" / "hw" / "estimate_coefficients.json"
# which features may drive which count (the rest are fixed at 0)
DRIVERS = {"luts": ("rom", "rom_wide", "memory_wide", "select", "adder", "adder_narrow",
                    "compare", "mux", "stage"),
           "ffs": ("ff", "stage"),
           "carry": ("adder", "adder_narrow", "compare", "stage")}


def build(row):
    options = LayerOptions(arch=row["arch"], pe=int(row["PE"]), simd=int(row["SIMD"]))
    return reference_plan(*(int(row[c]) for c in "AKBNM"), options)


def featurize(rows, family):
    out = []
    for row in rows:
        start = time.perf_counter()
        features, mapped = mapped_features(build(row), family)
        seconds = time.perf_counter() - start
        brams = sum(m["cells"] for m in mapped if m["mapped_to"] == "block")
        out.append((features, brams, seconds))
    return out


# what each feature should cost from first principles (cells per unit), per LUT size: the fit
# is pulled toward these (ridge, PRIOR_WEIGHT) so that a feature the sweep rarely exercises
# keeps a plausible cost instead of dropping to 0
PRIORS = {
    4: {"luts": {"rom": 1, "rom_wide": 2, "memory_wide": 2, "select": 1, "adder": 1,
                 "adder_narrow": 1, "compare": 0.5, "mux": 1, "stage": 10},
        "ffs": {"ff": 1, "stage": 10}, "carry": {"adder": 1, "adder_narrow": 1, "compare": 1,
                                                 "stage": 5}},
    6: {"luts": {"rom": 1, "rom_wide": 1, "memory_wide": 1, "select": 1 / 3, "adder": 1,
                 "adder_narrow": 1, "compare": 0.5, "mux": 1, "stage": 10},
        "ffs": {"ff": 1, "stage": 10}, "carry": {"adder": 0.25, "adder_narrow": 0.25,
                                                 "compare": 0.25, "stage": 2}},
}
# the gate-level family counts 2-input gates: a LUT4 function is several gates, a full adder 5,
# a node of a wide function's BDD (its "rom_wide", "memory_wide") about 1.5
PRIORS["gates"] = {"luts": {"rom": 6, "rom_wide": 1.5, "memory_wide": 1.5, "select": 3,
                            "adder": 6, "adder_narrow": 6, "compare": 3, "mux": 3, "stage": 30},
                   "ffs": {"ff": 1, "stage": 10}, "carry": {}}
PRIOR_WEIGHT = 0.5


def logic(row, family):
    """The logic count of a CSV row: LUTs, or gates for the gate-level family."""
    return int(row[logic_key(family)])


def fit(rows, featured, family):
    priors = PRIORS["gates" if family == "gates" else LUT_INPUTS[family]]
    coefficients = {}
    for count, drivers in DRIVERS.items():
        if not priors[count]:
            coefficients[count] = {}
            continue
        x = np.array([[f[name] for name in drivers] for f, _, _ in featured], dtype=float)
        y = np.array([float(logic(r, family) if count == "luts" else r[count]) for r in rows])
        weight = 1 / np.maximum(y, 1)                 # relative error
        prior = priors[count]
        x = np.vstack([x * weight[:, None], PRIOR_WEIGHT * np.eye(len(drivers))])
        y = np.concatenate([y * weight, [PRIOR_WEIGHT * prior[name] for name in drivers]])
        solution, _ = nnls(x, y)
        coefficients[count] = {name: round(float(v), 4) for name, v in zip(drivers, solution)}
    return coefficients


def quantizer_features(row, family):
    """The estimator's features of a quantizer CSV row's design."""
    return mapped_features(quantizer_from_row(row), family)[0]


def fit_step(rows, family):
    """The ``step`` coefficient: the median ratio of the LUTs (gates) of the ``fit`` quantizer
    rows (their logic is the table alone) to their ``step`` feature. A median, because a few
    tables collapse to a comparator or a wire under ABC and would drag a least-squares fit."""
    ratios = [logic(r, family) / max(1.0, quantizer_features(r, family)["step"]) for r in rows]
    return round(float(np.median(ratios)), 4)


SAMPLE_FEATURES = ("sample_compare", "sample_count")


def fit_sample_compare(rows, family):
    """``{count: {feature: weight}}`` of the comparator form (``sample_*`` features), fitted by
    non-negative least squares on relative error to the ``fit`` rows' LUTs (gates) and, except
    for the gate-level family, carry cells (FFs come from the ``ff`` coefficient)."""
    x = np.array([[quantizer_features(r, family)[name] for name in SAMPLE_FEATURES]
                  for r in rows], dtype=float)
    fitted = {}
    for count in ("luts",) if family == "gates" else ("luts", "carry"):
        y = np.array([float(logic(r, family) if count == "luts" else r["carry"]) for r in rows])
        weight = 1 / np.maximum(y, 32)            # relative error, a LUT per sample at least
        solution, _ = nnls(x * weight[:, None], y * weight)
        fitted[count] = {name: round(float(v), 4) for name, v in zip(SAMPLE_FEATURES, solution)}
    return fitted


def check_quantizers(rows, family, coefficients):
    """``{points, luts_within_20pct, luts_median_abs_error}`` on held-out quantizer rows."""
    errors = []
    for row in rows:
        cells = cells_from_features(quantizer_features(row, family), family, coefficients)
        estimated = cells[logic_key(family)]
        errors.append((estimated - logic(row, family)) / logic(row, family))
        print(f"{family} quantizer ({row['style']}) {row['raw_min']}..{row['raw_max']} "
              f"thresholds [{row['thresholds']}]: {logic(row, family)} by Yosys, {estimated} "
              f"estimated ({errors[-1]:+.1%})")
    errors = np.abs(errors)
    return {"points": len(rows), "luts_within_20pct": float(np.mean(errors <= 0.20)),
            "luts_median_abs_error": round(float(np.median(errors)), 4)}


def registers_kept(row):
    """Whether Yosys kept a register per sample: xc7's flow leaves the outputs of some
    single-comparison quantizers undriven ("used but has no driver", 2 FFs for 32 samples), a
    broken netlist whose counts mean nothing (``nomul.hw.synth`` now refuses it: -1 counts)."""
    return int(row["ffs"]) > int(row["elements"])


def quantizer_rows(family, split, style):
    rows = [r for r in read(HERE / f"synth_quantizers_{family}.csv")
            if r["split"] == split and r["style"] == style]
    for row in rows:
        if not registers_kept(row):
            print(f"{family}: skipped quantizer {row['raw_min']}..{row['raw_max']} "
                  f"[{row['thresholds']}]: Yosys kept {row['ffs']} FFs")
    return [r for r in rows if registers_kept(r)]


def read(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def main():
    fitted, summary, check_rows = {}, {}, []
    for family in FAMILIES:
        sweep = read(HERE / f"synth_sweep_{family}.csv")
        fitted[family] = fit(sweep, featurize(sweep, family), family)
        fitted[family]["luts"]["step"] = fit_step(quantizer_rows(family, "fit", "lookup"),
                                                  family)
        for count, weights in fit_sample_compare(quantizer_rows(family, "fit", "compare"),
                                                 family).items():
            fitted[family][count].update(weights)
    for family in FAMILIES:
        path = HERE / f"synth_check_{family}.csv"
        if not path.exists():
            print(f"{family}: no {path.name} yet; run bench/synth_sweep.py --check")
            continue
        rows = read(path)
        within = exact = 0
        estimate_seconds = synth_seconds = 0.0
        for row, (features, brams, seconds) in zip(rows, featurize(rows, family)):
            cells = cells_from_features(features, family, fitted)
            estimated = cells[logic_key(family)]
            error = (estimated - logic(row, family)) / logic(row, family)
            within += abs(error) <= 0.20
            exact += brams == int(row["brams"])
            estimate_seconds += seconds
            synth_seconds += float(row["seconds"])
            check_rows.append({"family": family, **{c: row[c] for c in
                               ("A", "K", "B", "N", "M", "arch", "PE", "SIMD")},
                               "luts": logic(row, family), "luts_est": estimated,
                               "luts_error": f"{error:+.3f}",
                               "ffs": row["ffs"], "ffs_est": cells["ffs"],
                               "brams": row["brams"], "brams_est": brams,
                               "estimate_ms": f"{seconds * 1e3:.1f}",
                               "synth_s": row["seconds"]})
        errors = [abs(float(r["luts_error"])) for r in check_rows if r["family"] == family]
        summary[family] = {"points": len(rows), "luts_within_20pct": within / len(rows),
                           "brams_exact": exact / len(rows),
                           "luts_median_abs_error": float(np.median(errors)),
                           "speed_ratio": round(synth_seconds / estimate_seconds),
                           "quantizers": {style: check_quantizers(
                               quantizer_rows(family, "check", style), family, fitted)
                               for style in ("lookup", "compare")}}
    COEFFICIENTS.write_text(json.dumps({"coefficients": fitted, "check": summary}, indent=1,
                                       sort_keys=True) + "\n")
    if check_rows:
        with open(HERE / "estimate_check.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(check_rows[0]))
            writer.writeheader()
            writer.writerows(check_rows)
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(json.dumps(fitted, indent=1))
    for row in check_rows:
        print(" ".join(f"{k}={v}" for k, v in row.items()))
    for family, s in summary.items():
        print(f"{family}: {s['points']} held-out layers, LUTs within 20 %: "
              f"{s['luts_within_20pct']:.0%}, block RAMs exact: {s['brams_exact']:.0%}, "
              f"median |LUT error| {s['luts_median_abs_error']:.1%}, estimate "
              f"{s['speed_ratio']}x faster than synthesis")
        for style, q in s["quantizers"].items():
            print(f"  {style} quantizers: LUTs within 20 %: {q['luts_within_20pct']:.0%} of "
                  f"{q['points']}, median |error| {q['luts_median_abs_error']:.1%}")


if __name__ == "__main__":
    main()
