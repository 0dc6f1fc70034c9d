# SPDX-License-Identifier: MIT
"""Calibration of the analytical estimate, per family: synthesis sweeps, then the fit
(``nomul calibrate FAMILY``).

The data of a family lives in its package folder (:func:`nomul.hw.families.data_dir`,
``data/<family>/``), or in any folder given as ``data_dir``:

- ``sweep.csv``: single dense layers (:data:`POINTS`: one random layer per point, fixed seed,
  :func:`~nomul.hw.cost.reference_plan`) over table sizes and foldings, each synthesized alone
  by Yosys (:func:`~nomul.hw.synth.synthesize`): the fitting set;
- ``check.csv``: the held-out layers (:data:`CHECK_POINTS`, none of them in :data:`POINTS`),
  never used for fitting;
- ``quantizers.csv``: input quantizers of 32 samples (:data:`QUANTIZER_POINTS`), rows ``fit``
  and ``check``: the quantizer features (``step`` for a table of raw codes, ``sample_compare``
  and ``sample_count`` for the comparator form) are fitted on the first and checked on the
  second, per form;
- ``coefficients.json``: what :func:`fit` finds (``{"coefficients", "check"}``), read by the
  estimate (:meth:`nomul.hw.families.Family.coefficients`);
- ``estimate_check.csv``: the held-out layers' estimated and synthesized counts, per layer.

:func:`sweep` synthesizes points (minutes per family and part: hours for every family);
:func:`fit` fits the coefficients from the CSVs in seconds: non-negative least squares on
relative error, pulled toward first-principles priors (:data:`PRIORS`), the ``step``
coefficient as a median ratio, the comparator form's by its own least squares; then checks
them on the held-out rows. The fit is deterministic: the same CSVs give the same coefficients
and figures (``speed_ratio``, the estimate's speed against synthesis, is a timing).
For the gate-level family, "LUTs" are its 2-input gate count throughout.
"""

import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import OptionsError, ToolError
from . import families

__all__ = ["PARTS", "POINTS", "CHECK_POINTS", "QUANTIZER_POINTS", "KEY_COLUMNS", "LAYER_COLUMNS",
           "QUANTIZER_COLUMNS", "PRIORS", "layer_plan", "quantizer_plan", "synthesize_point",
           "sweep", "fit", "write_fit", "check_calibration", "calibrate", "missing_points"]

PARTS = ("sweep", "check", "quantizers")
FILES = {"sweep": "sweep.csv", "check": "check.csv", "quantizers": "quantizers.csv"}

# -- the points ------------------------------------------------------------------------------


def _random_tables(points):
    """Points of random product tables (the 9th field, ``table``, ``"random"``)."""
    return tuple((*point, "random") for point in points)


# layers: (A input levels, K codewords, B entry bits, N inputs, M outputs, arch, PE, SIMD,
# table): "random" tables (:func:`~nomul.hw.cost.reference_layer`), "linear" ones (a level
# times a codeword, as trained scalar codebooks give, with evenly spaced thresholds), or
# "saturating" ones (a table per edge, 127 evenly spaced thresholds: a KAN's requantization)
POINTS = (*_random_tables((
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
    # more fitting points, added after the first check: more outputs and thresholds per
    # layer, and deeper weight ROMs left to logic (the check set stays untouched)
    *[(a, k, b, n, m, "unrolled", 1, 1)
      for a, k, b, n, m in [(4, 4, 8, 16, 32), (8, 8, 10, 8, 24), (2, 8, 6, 24, 16),
                            (16, 8, 12, 12, 12), (4, 16, 10, 32, 8), (3, 8, 7, 16, 16),
                            (8, 2, 8, 16, 8), (4, 4, 6, 40, 16)]],
    *[(a, k, b, n, m, "folded", pe, simd)
      for a, k, b, n, m, pe, simd in [
          (4, 8, 8, 64, 32, 1, 4), (2, 4, 6, 64, 64, 2, 2), (8, 16, 12, 64, 16, 1, 2),
          (4, 4, 6, 96, 32, 2, 8), (16, 4, 12, 32, 32, 4, 2), (3, 4, 6, 64, 32, 1, 8),
          (8, 8, 10, 32, 64, 8, 4), (4, 16, 10, 128, 16, 2, 4)]],
    # wide unrolled layers of 2-bit inputs: grouped lookups (added with the adder graphs)
    *[(a, k, b, n, m, "unrolled", 1, 1)
      for a, k, b, n, m in [(4, 8, 6, 64, 32), (2, 8, 6, 60, 16), (3, 4, 6, 48, 24)]])),
    # unrolled layers of linear tables, like the shared digits model's (factored graphs)
    *[(a, k, b, n, m, "unrolled", 1, 1, "linear")
      for a, k, b, n, m in [(16, 8, 8, 64, 64), (4, 8, 6, 64, 32), (4, 8, 7, 32, 10),
                            (2, 4, 5, 48, 16), (8, 8, 8, 32, 32), (16, 4, 8, 16, 48),
                            (4, 16, 8, 96, 16), (3, 8, 6, 64, 24)]],
    # a KAN compiled to tables: a codeword per edge, saturating 7-bit requantization (clamps)
    *[(a, n * m, b, n, m, "unrolled", 1, 1, "saturating")
      for a, b, n, m in [(128, 8, 8, 4), (64, 8, 6, 4), (256, 8, 4, 6)]],
)
# held-out layers (none of them in POINTS): the estimate is fitted on POINTS and checked here
CHECK_POINTS = (*_random_tables((
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
    (4, 4, 6, 64, 16, "unrolled", 1, 1))),
    *[(a, k, b, n, m, "unrolled", 1, 1, "linear")
      for a, k, b, n, m in [(16, 8, 8, 48, 32), (4, 8, 6, 48, 48), (2, 8, 5, 64, 24)]],
    *[(a, n * m, b, n, m, "unrolled", 1, 1, "saturating")
      for a, b, n, m in [(128, 8, 8, 5), (32, 7, 8, 4)]],
)
KEY_COLUMNS = ("A", "K", "B", "N", "M", "arch", "PE", "SIMD", "table")
LAYER_COLUMNS = (*KEY_COLUMNS, "luts", "ffs", "carry",
                 "brams", "dsps", "gates", "lutram", "muxes", "multipliers", "seconds")

QUANTIZER_ELEMENTS = 32
# quantizers: (split, raw_min, raw_max, thresholds, seed); thresholds drawn at random (seed)
# inside the raw range. The first 20 read a table of raw codes (style "lookup", at most
# LOOKUP_MAX_TABLE_BITS), the last 12 compare (wider samples, or too many thresholds)
QUANTIZER_POINTS = (
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
)
QUANTIZER_COLUMNS = ("split", "elements", "raw_min", "raw_max", "thresholds", "style", "luts",
                     "ffs", "carry", "brams", "gates", "seconds")
PART_POINTS = {"sweep": POINTS, "check": CHECK_POINTS, "quantizers": QUANTIZER_POINTS}
COLUMNS = {"sweep": LAYER_COLUMNS, "check": LAYER_COLUMNS, "quantizers": QUANTIZER_COLUMNS}
# the columns the fit reads, per part
NEEDED = {"sweep": LAYER_COLUMNS, "check": LAYER_COLUMNS,
          "quantizers": ("split", "elements", "raw_min", "raw_max", "thresholds", "style",
                         "luts", "ffs", "carry", "gates")}
CHECK_COLUMNS = (*KEY_COLUMNS, "luts", "luts_est",
                 "luts_error", "ffs", "ffs_est", "brams", "brams_est", "estimate_ms",
                 "synth_s")


def _is_quantizer(point):
    return point[0] in ("fit", "check")


def layer_plan(point):
    """The plan of a layer point or of a layer CSV row (:data:`KEY_COLUMNS`; a row without
    ``table`` has a random one)."""
    from ..design import LayerOptions
    from .cost import reference_plan

    if isinstance(point, dict):
        point = (*(int(point[c]) for c in "AKBNM"), point["arch"], int(point["PE"]),
                 int(point["SIMD"]), point.get("table", "random"))
    a, k, b, n, m, arch, pe, simd, table = point
    return reference_plan(a, k, b, n, m, LayerOptions(arch=arch, pe=pe, simd=simd),
                          table=table)


def quantizer_plan(point):
    """The plan of a quantizer point (its thresholds drawn with the point's seed) or of a
    quantizer CSV row (the thresholds it lists)."""
    from ..design.plans import QuantizerPlan

    if isinstance(point, dict):
        return QuantizerPlan(int(point["elements"]), int(point["raw_min"]),
                             int(point["raw_max"]), [int(t) for t in point["thresholds"].split()])
    _, raw_min, raw_max, count, seed = point
    rng = np.random.default_rng(seed)
    thresholds = np.sort(rng.integers(raw_min + 1, raw_max + 1, count))
    return QuantizerPlan(QUANTIZER_ELEMENTS, raw_min, raw_max, thresholds.tolist())


# -- synthesis -------------------------------------------------------------------------------

def synthesize_point(point, family, work_dir):
    """Synthesize one layer or quantizer point alone for ``family`` in ``work_dir``; return
    its CSV row (:data:`LAYER_COLUMNS` or :data:`QUANTIZER_COLUMNS`). A quantizer Yosys
    cannot count (it left outputs undriven) gets -1 counts; a layer raises."""
    from ..gateware.emit import emit_verilog
    from ..gateware.network import component
    from .synth import synthesize

    quantizer = _is_quantizer(point)
    plan = quantizer_plan(point) if quantizer else layer_plan(point)
    name = "quantizer" if quantizer else "layer"
    directory = Path(work_dir) / "_".join(map(str, point))
    directory.mkdir(parents=True)
    (directory / f"{name}.v").write_text(emit_verilog(component(plan), name))
    start = time.perf_counter()
    if not quantizer:
        report = synthesize(directory / f"{name}.v", name, family, directory / "yosys")
        seconds = time.perf_counter() - start
        return dict(zip(LAYER_COLUMNS, point, strict=False)) \
            | {c: report[c] for c in LAYER_COLUMNS[len(KEY_COLUMNS):-1]} \
            | {"seconds": round(seconds, 2)}
    counts = ("luts", "ffs", "carry", "brams", "gates")
    try:
        report = synthesize(directory / f"{name}.v", name, family, directory / "yosys")
    except ToolError:                  # e.g. Yosys left outputs undriven: no counts (-1)
        report = dict.fromkeys(counts, -1)
    seconds = time.perf_counter() - start
    return {"split": point[0], "elements": plan.elements, "raw_min": plan.raw_min,
            "raw_max": plan.raw_max, "thresholds": " ".join(map(str, plan.thresholds)),
            "style": plan.style, **{c: report[c] for c in counts},
            "seconds": round(seconds, 2)}


def sweep(family, points, *, jobs=2, work_dir=None):
    """Synthesize ``points`` (layer or quantizer points, :data:`POINTS`,
    :data:`CHECK_POINTS`, :data:`QUANTIZER_POINTS`) for ``family``, ``jobs`` at a time,
    with progress; return their CSV rows in the order of ``points``. ``work_dir`` keeps
    Yosys's files (a temporary directory when None)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from ..progress import step

    families.family(family)
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="nomul-calibrate-") as scratch:
            return sweep(family, points, jobs=jobs, work_dir=scratch)
    what = "quantizers" if points and _is_quantizer(points[0]) else "layers"
    with step(f"synthesizing {len(points)} {what} with Yosys ({family})",
              total=len(points)) as advance, \
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(synthesize_point, point, family, work_dir) for point in points]
        for _ in as_completed(futures):
            advance()
        return [future.result() for future in futures]


# -- the fit ---------------------------------------------------------------------------------

# which features may drive which count (the rest are fixed at 0)
DRIVERS = {"luts": ("rom", "rom_wide", "memory_wide", "select", "adder", "adder_narrow",
                    "compare", "compare_const", "mux", "stage"),
           "ffs": ("ff", "stage"),
           "carry": ("adder", "adder_narrow", "compare", "stage")}
# what each feature should cost from first principles (cells per unit), per LUT size: the fit
# is pulled toward these (ridge, PRIOR_WEIGHT) so that a feature the sweep rarely exercises
# keeps a plausible cost instead of dropping to 0
PRIORS = {
    4: {"luts": {"rom": 1, "rom_wide": 2, "memory_wide": 2, "select": 1, "adder": 1,
                 "adder_narrow": 1, "compare": 0.5, "compare_const": 0.5, "mux": 1,
                 "stage": 10},
        "ffs": {"ff": 1, "stage": 10}, "carry": {"adder": 1, "adder_narrow": 1, "compare": 1,
                                                 "stage": 5}},
    6: {"luts": {"rom": 1, "rom_wide": 1, "memory_wide": 1, "select": 1 / 3, "adder": 1,
                 "adder_narrow": 1, "compare": 0.5, "compare_const": 0.25, "mux": 1,
                 "stage": 10},
        "ffs": {"ff": 1, "stage": 10}, "carry": {"adder": 0.25, "adder_narrow": 0.25,
                                                 "compare": 0.25, "stage": 2}},
    # 2-input gates: a LUT4 function is several gates, a full adder 5, a node of a wide
    # function's BDD (its "rom_wide", "memory_wide") about 1.5
    "gates": {"luts": {"rom": 6, "rom_wide": 1.5, "memory_wide": 1.5, "select": 3,
                       "adder": 6, "adder_narrow": 6, "compare": 3, "compare_const": 2, "mux": 3,
                       "stage": 30},
              "ffs": {"ff": 1, "stage": 10}, "carry": {}},
}
PRIOR_WEIGHT = 0.5
SAMPLE_FEATURES = ("sample_compare", "sample_count")


def _priors(family):
    spec = families.family(family)
    key = "gates" if spec.logic == "gates" else spec.lut_inputs
    if key not in PRIORS:
        raise OptionsError(f"{family}: no fit priors for {spec.lut_inputs}-input LUTs; add them "
                           "to nomul.hw.calibrate.PRIORS")
    return PRIORS[key]


def _logic(row, family):
    """The logic count of a CSV row: LUTs, or gates for the gate-level family."""
    return int(row[families.logic_key(family)])


def _featurize(rows, family):
    """``(features, block RAMs, seconds)`` of every layer row, as the estimate maps it."""
    from .estimate import mapped_features

    out = []
    for row in rows:
        start = time.perf_counter()
        features, mapped = mapped_features(layer_plan(row), family)
        seconds = time.perf_counter() - start
        brams = sum(m["cells"] for m in mapped if m["mapped_to"] == "block")
        out.append((features, brams, seconds))
    return out


def _fit_layers(rows, featured, family):
    """``{count: {feature: weight}}``: non-negative least squares on relative error, pulled
    toward the priors, over the :data:`DRIVERS` of each count."""
    from scipy.optimize import nnls

    priors = _priors(family)
    coefficients = {}
    for count, drivers in DRIVERS.items():
        if not priors[count]:
            coefficients[count] = {}
            continue
        x = np.array([[f[name] for name in drivers] for f, _, _ in featured], dtype=float)
        y = np.array([float(_logic(r, family) if count == "luts" else r[count]) for r in rows])
        weight = 1 / np.maximum(y, 1)                 # relative error
        prior = priors[count]
        x = np.vstack([x * weight[:, None], PRIOR_WEIGHT * np.eye(len(drivers))])
        y = np.concatenate([y * weight, [PRIOR_WEIGHT * prior[name] for name in drivers]])
        solution, _ = nnls(x, y)
        coefficients[count] = {name: round(float(v), 4) for name, v in zip(drivers, solution)}
    return coefficients


def _quantizer_features(row, family):
    from .estimate import mapped_features

    return mapped_features(quantizer_plan(row), family)[0]


def _fit_step(rows, family):
    """The ``step`` coefficient: the median ratio of the LUTs (gates) of the ``fit`` quantizer
    rows (their logic is the table alone) to their ``step`` feature. A median, because a few
    tables collapse to a comparator or a wire under ABC and would drag a least-squares fit."""
    ratios = [_logic(r, family) / max(1.0, _quantizer_features(r, family)["step"])
              for r in rows]
    return round(float(np.median(ratios)), 4)


def _fit_sample_compare(rows, family):
    """``{count: {feature: weight}}`` of the comparator form (``sample_*`` features), fitted by
    non-negative least squares on relative error to the ``fit`` rows' LUTs (gates) and, except
    for the gate-level family, carry cells (FFs come from the ``ff`` coefficient)."""
    from scipy.optimize import nnls

    x = np.array([[_quantizer_features(r, family)[name] for name in SAMPLE_FEATURES]
                  for r in rows], dtype=float)
    fitted = {}
    counts = ("luts",) if families.logic_key(family) == "gates" else ("luts", "carry")
    for count in counts:
        y = np.array([float(_logic(r, family) if count == "luts" else r["carry"])
                      for r in rows])
        weight = 1 / np.maximum(y, 32)            # relative error, a LUT per sample at least
        solution, _ = nnls(x * weight[:, None], y * weight)
        fitted[count] = {name: round(float(v), 4) for name, v in zip(SAMPLE_FEATURES, solution)}
    return fitted


def _check_quantizers(rows, family, coefficients):
    """``({points, luts_within_20pct, luts_median_abs_error}, per-row results)`` on held-out
    quantizer rows."""
    from .estimate import cells_from_features

    errors, results = [], []
    for row in rows:
        cells = cells_from_features(_quantizer_features(row, family), family,
                                    {family: coefficients})
        estimated = cells[families.logic_key(family)]
        errors.append((estimated - _logic(row, family)) / _logic(row, family))
        results.append({"style": row["style"], "raw_min": int(row["raw_min"]),
                        "raw_max": int(row["raw_max"]), "thresholds": row["thresholds"],
                        "luts": _logic(row, family), "luts_est": estimated,
                        "luts_error": round(errors[-1], 4)})
    errors = np.abs(errors)
    return {"points": len(rows), "luts_within_20pct": float(np.mean(errors <= 0.20)),
            "luts_median_abs_error": round(float(np.median(errors)), 4)}, results


def _registers_kept(row):
    """Whether Yosys kept a register per sample: xc7's flow leaves the outputs of some
    single-comparison quantizers undriven ("used but has no driver", 2 FFs for 32 samples), a
    broken netlist whose counts mean nothing (:mod:`nomul.hw.synth` now refuses it: -1
    counts)."""
    return int(row["ffs"]) > int(row["elements"])


def _quantizer_rows(rows, split, style, skipped):
    chosen = [r for r in rows if r["split"] == split and r["style"] == style]
    skipped += [f"quantizer {r['raw_min']}..{r['raw_max']} [{r['thresholds']}]: Yosys kept "
                f"{r['ffs']} FFs" for r in chosen if not _registers_kept(r)]
    return [r for r in chosen if _registers_kept(r)]


def _part_path(family, part, data_dir):
    path = Path(data_dir) / FILES[part]
    if not path.is_file():
        raise OptionsError(f"{family}: {path} is missing (synthesize the part {part!r} there "
                           "first)")
    return path


def _read(family, part, data_dir):
    """The rows of one part's CSV; a one-line error when it is missing, lacks a column the
    fit reads, or has no row."""
    path = _part_path(family, part, data_dir)
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise OptionsError(f"{family}: cannot read {path} ({error})") from None
    missing = [c for c in NEEDED[part] if c not in header]
    if missing or not rows:
        raise OptionsError(f"{family}: {path} is not a {part} CSV of nomul calibrate ("
                           + (f"no column {', '.join(missing)})" if missing else "no rows)"))
    return rows


def fit(family, data_dir=None):
    """Fit ``family``'s coefficients to the CSVs in ``data_dir`` (the package's data folder
    when None) and check them on the held-out rows.

    Returns ``{"family", "coefficients": {count: {feature: weight}}, "check": {points,
    luts_within_20pct, brams_exact, luts_median_abs_error, speed_ratio, quantizers: {style:
    figures}}, "layers": per held-out layer rows (:data:`CHECK_COLUMNS`), "quantizers":
    per held-out quantizer results, "skipped": rows left out, why}``. Nothing is written
    (:func:`write_fit`). A missing or unreadable CSV is a one-line
    :class:`~nomul.errors.OptionsError`.
    """
    from .estimate import cells_from_features

    families.family(family)
    data_dir = Path(data_dir) if data_dir is not None else families.data_dir(family)
    sweep_rows, check_rows, quantizers = (_read(family, part, data_dir) for part in PARTS)
    skipped = []
    coefficients = _fit_layers(sweep_rows, _featurize(sweep_rows, family), family)
    coefficients["luts"]["step"] = _fit_step(
        _quantizer_rows(quantizers, "fit", "lookup", skipped), family)
    for count, weights in _fit_sample_compare(
            _quantizer_rows(quantizers, "fit", "compare", skipped), family).items():
        coefficients[count].update(weights)
    within = exact = 0
    estimate_seconds = synth_seconds = 0.0
    layers = []
    for row, (features, brams, seconds) in zip(check_rows, _featurize(check_rows, family)):
        cells = cells_from_features(features, family, {family: coefficients})
        estimated = cells[families.logic_key(family)]
        error = (estimated - _logic(row, family)) / _logic(row, family)
        within += abs(error) <= 0.20
        exact += brams == int(row["brams"])
        estimate_seconds += seconds
        synth_seconds += float(row["seconds"])
        layers.append({**{c: row.get(c, "random") for c in KEY_COLUMNS},
                       "luts": _logic(row, family), "luts_est": estimated,
                       "luts_error": f"{error:+.3f}", "ffs": row["ffs"], "ffs_est": cells["ffs"],
                       "brams": row["brams"], "brams_est": brams,
                       "estimate_ms": f"{seconds * 1e3:.1f}", "synth_s": row["seconds"]})
    errors = [abs(float(r["luts_error"])) for r in layers]
    check = {"points": len(check_rows), "luts_within_20pct": within / len(check_rows),
             "brams_exact": exact / len(check_rows),
             "luts_median_abs_error": float(np.median(errors)),
             "speed_ratio": round(synth_seconds / estimate_seconds), "quantizers": {}}
    quantizer_results = []
    for style in ("lookup", "compare"):
        figures, results = _check_quantizers(
            _quantizer_rows(quantizers, "check", style, skipped), family, coefficients)
        check["quantizers"][style] = figures
        quantizer_results += results
    return {"family": family, "coefficients": coefficients, "check": check, "layers": layers,
            "quantizers": quantizer_results, "skipped": skipped}


def write_fit(result, data_dir):
    """Write a :func:`fit` result into ``data_dir``: ``coefficients.json`` (coefficients and
    check figures) and ``estimate_check.csv`` (the held-out layers); return the paths."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    coefficients = data_dir / "coefficients.json"
    coefficients.write_text(json.dumps({"coefficients": result["coefficients"],
                                        "check": result["check"]}, indent=1, sort_keys=True)
                            + "\n")
    layers = data_dir / "estimate_check.csv"
    with open(layers, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CHECK_COLUMNS)
        writer.writeheader()
        writer.writerows(result["layers"])
    families.reload_coefficients()         # the package's own data may have changed
    return coefficients, layers


# -- both ------------------------------------------------------------------------------------

def check_calibration(family, *, synthesize=True, parts=PARTS, arch=None, jobs=2,
                      data_dir=None):
    """Refuse, before any work, what :func:`calibrate` could not do: an unknown family, part
    or architecture, ``arch`` with the quantizers (they have none), or a CSV the fit needs
    that is missing and would not be synthesized. Returns the data folder."""
    families.family(family)
    data_dir = Path(data_dir) if data_dir is not None else families.data_dir(family)
    parts = tuple(parts)
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise OptionsError(f"unknown calibration part {(unknown or [''])[0]!r}; choose from "
                           f"{', '.join(PARTS)}")
    if arch not in (None, "unrolled", "folded"):
        raise OptionsError(f"arch: unknown value {arch!r}; choose from unrolled, folded")
    if synthesize and arch is not None and "quantizers" in parts:
        raise OptionsError(f"arch {arch} selects layers; the quantizers have no architecture "
                           "(give the parts sweep and/or check)")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise OptionsError(f"jobs must be a positive integer, not {jobs!r}")
    for part in PARTS:
        if not (synthesize and part in parts):
            _part_path(family, part, data_dir)
    return data_dir


def calibrate(family, *, synthesize=True, parts=PARTS, arch=None, jobs=2, data_dir=None,
              work_dir=None):
    """Calibrate ``family``'s estimate: synthesize ``parts`` (when ``synthesize``; only the
    layers of ``arch`` when given, the CSV's other rows kept), write their CSVs into
    ``data_dir`` (the package's data folder when None), then :func:`fit` and
    :func:`write_fit` there.

    Returns :func:`fit`'s result plus ``"data_dir"``, ``"written"`` (paths) and
    ``"synthesized": {part: {"points", "seconds", "failed"}}`` (``failed``: points Yosys
    could not count, recorded as -1).
    """
    data_dir = check_calibration(family, synthesize=synthesize, parts=parts, arch=arch,
                                 jobs=jobs, data_dir=data_dir)
    synthesized, written = {}, []
    if synthesize:
        data_dir.mkdir(parents=True, exist_ok=True)
        for part in (p for p in PARTS if p in parts):
            points = [p for p in PART_POINTS[part] if arch is None or p[5] == arch]
            rows = sweep(family, points, jobs=jobs, work_dir=work_dir and Path(work_dir) / part)
            path = data_dir / FILES[part]
            kept = []
            if arch is not None and path.is_file():
                with open(path, newline="") as handle:
                    kept = [{"table": "random", **row} for row in csv.DictReader(handle)
                            if row["arch"] != arch]
            _write_rows(path, part, kept + rows)
            written.append(path)
            synthesized[part] = {"points": len(rows),
                                 "seconds": round(sum(r["seconds"] for r in rows), 1),
                                 "failed": sum(int(r["luts"]) < 0 for r in rows)}
    result = fit(family, data_dir)
    written += write_fit(result, data_dir)
    return {**result, "data_dir": str(data_dir), "written": [str(p) for p in written],
            "synthesized": synthesized}


def missing_points(family, data_dir=None):
    """``{part: points}``: the layer points of the current sweep (:data:`POINTS`,
    :data:`CHECK_POINTS`) that ``family``'s CSVs lack. A family calibrated before points were
    added, or before a change of the hardware they measure, lacks them until ``nomul
    calibrate FAMILY`` runs again; its figures then describe the older calibration."""
    data_dir = families.data_dir(family) if data_dir is None else data_dir
    missing = {}
    for part in ("sweep", "check"):
        path = _part_path(family, part, data_dir)
        with open(path, newline="") as handle:
            have = {tuple(str(row.get(c, "random")) for c in KEY_COLUMNS)
                    for row in csv.DictReader(handle)}
        missing[part] = [p for p in PART_POINTS[part]
                         if tuple(str(v) for v in p) not in have]
    return missing


def _write_rows(path, part, rows):
    """Write a part's CSV, rows in the order of its points (rows of points no longer in the
    list last)."""
    order = {tuple(str(v) for v in point): n for n, point in enumerate(PART_POINTS[part])}
    if part != "quantizers":
        rows = sorted(rows, key=lambda row: order.get(tuple(str(row[c])
                                                            for c in KEY_COLUMNS),
                                                      len(order)))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS[part])
        writer.writeheader()
        writer.writerows(rows)
