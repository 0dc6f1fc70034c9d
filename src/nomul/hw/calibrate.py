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
- ``thresholds.csv``: threshold units alone, one output each (:data:`THRESHOLD_POINTS`,
  :func:`threshold_plan`), rows ``fit`` and ``check``: the ``fit`` rows join the layers in the
  fit of the logic, register and carry coefficients (every layer compares with 3 thresholds,
  so alone the layers cannot tell ``compare_const`` from ``adder`` and ``compare``), the
  ``check`` rows are held out;
- ``coefficients.json``: what :func:`fit` finds (``{"coefficients", "check"}``), read by the
  estimate (:meth:`nomul.hw.families.Family.coefficients`);
- ``estimate_check.csv``: the held-out layers' estimated and synthesized counts, per layer.

:func:`sweep` synthesizes points (minutes per family and part: hours for every family);
:func:`fit` fits the coefficients from the CSVs in seconds: non-negative least squares on
relative error, on the layers and the ``fit`` threshold units (weighted by
:data:`THRESHOLD_WEIGHT`), pulled toward first-principles priors (:data:`PRIORS`), the ``step``
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

__all__ = ["PARTS", "POINTS", "CHECK_POINTS", "QUANTIZER_POINTS", "THRESHOLD_POINTS",
           "KEY_COLUMNS", "LAYER_COLUMNS", "QUANTIZER_COLUMNS", "THRESHOLD_KEY_COLUMNS",
           "THRESHOLD_COLUMNS", "PRIORS", "THRESHOLD_WEIGHT", "THRESHOLD_MIN_CELLS",
           "layer_plan", "quantizer_plan", "threshold_plan", "threshold_features",
           "synthesize_point", "sweep", "fit", "write_fit", "check_calibration", "calibrate",
           "missing_points"]

PARTS = ("sweep", "check", "quantizers", "thresholds")
FILES = {"sweep": "sweep.csv", "check": "check.csv", "quantizers": "quantizers.csv",
         "thresholds": "thresholds.csv"}

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

# threshold units alone, one output each: (split, method, spacing, width, count, seed), a
# signed ``width``-bit input and ``count`` thresholds drawn with ``seed``, distinct at random,
# evenly spaced by a power of two, or one apart around zero ("saturate"; see
# :func:`threshold_plan`); method "parallel" or "search" (:class:`~nomul.design.trees.
# ThresholdPlan`) or "clamp" (:class:`~nomul.design.trees.ClampPlan`, even or saturate spacing
# only). The "fit" units share no unit with the "check" ones; the first eight "check" units
# are tests/hw/test_estimate.py's THRESHOLD_UNITS (their seed is 1000 * width + count there)
THRESHOLD_POINTS = (
    *[("fit", "parallel", "random", w, c, s)
      for w, c, s in [(8, 3, 1), (13, 7, 2), (10, 15, 3), (12, 31, 4), (14, 63, 5),
                      (9, 100, 6), (16, 127, 7), (10, 255, 8)]],
    *[("fit", "parallel", "even", w, c, s)
      for w, c, s in [(9, 3, 11), (8, 15, 12), (10, 31, 13), (12, 63, 14), (16, 127, 15),
                      (14, 255, 16)]],
    *[("fit", "search", "random", w, c, s)
      for w, c, s in [(9, 3, 21), (8, 7, 22), (16, 15, 23), (10, 31, 24), (14, 63, 25),
                      (11, 127, 26), (12, 255, 27)]],
    *[("fit", "search", "even", w, c, s)
      for w, c, s in [(11, 7, 31), (8, 15, 32), (13, 31, 33), (10, 63, 34), (16, 127, 35),
                      (12, 255, 36)]],
    *[("fit", "clamp", "even", w, c, s) for w, c, s in [(10, 15, 41), (12, 63, 42),
                                                        (16, 127, 43)]],
    # saturations (a KAN-to-LUT compiler's requantization): no subtraction, the input's bits
    *[("fit", "clamp", "saturate", w, c, s) for w, c, s in [(10, 127, 44), (12, 255, 45),
                                                            (9, 63, 46)]],
    *[("check", method, spacing, w, c, 1000 * w + c)
      for method, spacing, w, c in [
          ("parallel", "even", 12, 127), ("parallel", "even", 11, 255),
          ("parallel", "random", 12, 255), ("parallel", "random", 12, 127),
          ("search", "even", 12, 63), ("search", "even", 14, 127),
          ("search", "random", 12, 127), ("search", "random", 12, 63)]],
    ("check", "parallel", "random", 10, 7, 51), ("check", "search", "even", 16, 31, 52),
    ("check", "clamp", "even", 12, 31, 53), ("check", "clamp", "even", 14, 255, 54),
    ("check", "clamp", "saturate", 11, 255, 55),
)
THRESHOLD_KEY_COLUMNS = ("split", "method", "spacing", "width", "count", "seed")
THRESHOLD_COLUMNS = (*THRESHOLD_KEY_COLUMNS, "thresholds", "luts", "ffs", "carry", "brams",
                     "gates", "seconds")
PART_POINTS = {"sweep": POINTS, "check": CHECK_POINTS, "quantizers": QUANTIZER_POINTS,
               "thresholds": THRESHOLD_POINTS}
COLUMNS = {"sweep": LAYER_COLUMNS, "check": LAYER_COLUMNS, "quantizers": QUANTIZER_COLUMNS,
           "thresholds": THRESHOLD_COLUMNS}
# the columns the fit reads, per part
NEEDED = {"sweep": LAYER_COLUMNS, "check": LAYER_COLUMNS,
          "quantizers": ("split", "elements", "raw_min", "raw_max", "thresholds", "style",
                         "luts", "ffs", "carry", "gates"),
          "thresholds": ("split", "method", "width", "thresholds", "luts", "ffs", "carry",
                         "gates")}
CHECK_COLUMNS = (*KEY_COLUMNS, "luts", "luts_est",
                 "luts_error", "ffs", "ffs_est", "brams", "brams_est", "estimate_ms",
                 "synth_s")


def _kind(point):
    """``"layer"``, ``"quantizer"`` or ``"threshold"``: what a point of :data:`PART_POINTS`
    describes."""
    if point[0] not in ("fit", "check"):
        return "layer"
    return "threshold" if isinstance(point[1], str) else "quantizer"


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


def _threshold_row(spacing, field, count, seed):
    """``count`` ascending thresholds inside ``field`` (above its minimum), drawn with
    ``seed``: distinct at random, or evenly spaced by the largest power of two that fits
    them at a random base."""
    lo, hi = field.bounds.lo, field.bounds.hi
    rng = np.random.default_rng(seed)
    if spacing == "random":
        return sorted(rng.choice(np.arange(lo + 1, hi + 1), count, replace=False).tolist())
    if spacing == "saturate":          # one apart around zero: a saturation to count + 1 levels
        return [i - count // 2 for i in range(count)]
    if spacing != "even":
        raise ValueError(f"spacing must be even, random or saturate, not {spacing!r}")
    step = 1 << max(0, ((hi - lo) // (count + 1)).bit_length() - 1)
    base = int(rng.integers(lo + 1, hi + 2 - step * count))
    return [base + i * step for i in range(count)]


def threshold_plan(point):
    """The plan of a threshold-unit point (:data:`THRESHOLD_POINTS`: one output on a signed
    ``width``-bit input, its thresholds drawn with the point's seed) or of a thresholds CSV
    row (the thresholds it lists): a :class:`~nomul.design.trees.ThresholdPlan` (method
    "parallel" or "search") or a :class:`~nomul.design.trees.ClampPlan` (method "clamp", evenly
    spaced thresholds only)."""
    from ..design.ports import Field

    if isinstance(point, dict):
        method, field = point["method"], Field(int(point["width"]), signed=True)
        row = [int(t) for t in point["thresholds"].split()]
    else:
        _, method, spacing, width, count, seed = point
        field = Field(width, signed=True)
        row = _threshold_row(spacing, field, count, seed)
    return _threshold_unit(method, field, row)


def _threshold_unit(method, field, row):
    from ..design.trees import ClampPlan, ThresholdPlan

    if method != "clamp":
        return ThresholdPlan((tuple(row),), field, method)
    plan = ClampPlan.of((tuple(row),), (field.bounds,), field, (False,))
    if plan is None:
        raise ValueError("a clamp needs thresholds evenly spaced by a power of two")
    return plan


def threshold_features(plan, family):
    """The features of a threshold unit alone (:func:`threshold_plan`), on inputs over its
    whole field, as an unrolled layer's activation counts them
    (:func:`~nomul.design.cost.activation_features`)."""
    from ..design.cost import activation_features, new_features

    spec = families.family(family)
    f = new_features()
    activation_features(plan, (plan.in_field.bounds,) * plan.in_port.length, f,
                        lut_inputs=spec.lut_inputs, shared_leaves=spec.shared_leaves)
    return f


# -- synthesis -------------------------------------------------------------------------------

_PLAN_OF = {"layer": layer_plan, "quantizer": quantizer_plan, "threshold": threshold_plan}
_COUNTS = ("luts", "ffs", "carry", "brams", "gates")


def synthesize_point(point, family, work_dir):
    """Synthesize one layer, quantizer or threshold-unit point alone for ``family`` in
    ``work_dir``; return its CSV row (:data:`LAYER_COLUMNS`, :data:`QUANTIZER_COLUMNS` or
    :data:`THRESHOLD_COLUMNS`). A quantizer or threshold unit Yosys cannot count (it left
    outputs undriven) gets -1 counts; a layer raises."""
    from ..gateware.emit import emit_verilog
    from ..gateware.network import component
    from .synth import synthesize

    kind = _kind(point)
    plan = _PLAN_OF[kind](point)
    directory = Path(work_dir) / "_".join(map(str, point))
    directory.mkdir(parents=True)
    (directory / f"{kind}.v").write_text(emit_verilog(component(plan), kind))
    start = time.perf_counter()
    if kind == "layer":
        report = synthesize(directory / f"{kind}.v", kind, family, directory / "yosys")
        seconds = time.perf_counter() - start
        return dict(zip(LAYER_COLUMNS, point, strict=False)) \
            | {c: report[c] for c in LAYER_COLUMNS[len(KEY_COLUMNS):-1]} \
            | {"seconds": round(seconds, 2)}
    try:
        report = synthesize(directory / f"{kind}.v", kind, family, directory / "yosys")
    except ToolError:                  # e.g. Yosys left outputs undriven: no counts (-1)
        report = dict.fromkeys(_COUNTS, -1)
    seconds = time.perf_counter() - start
    return {**_unit_columns(point, plan), **{c: report[c] for c in _COUNTS},
            "seconds": round(seconds, 2)}


def _unit_columns(point, plan):
    """The columns of a quantizer or threshold-unit row that describe the unit."""
    if _kind(point) == "threshold":
        return {**dict(zip(THRESHOLD_KEY_COLUMNS, point, strict=True)),
                "thresholds": " ".join(map(str, _unit_thresholds(plan)))}
    return {"split": point[0], "elements": plan.elements, "raw_min": plan.raw_min,
            "raw_max": plan.raw_max, "thresholds": " ".join(map(str, plan.thresholds)),
            "style": plan.style}


def _unit_thresholds(plan):
    """The one row of thresholds of a threshold unit (a clamp's, listed)."""
    if hasattr(plan, "rows"):
        return plan.rows[0]
    _, count, base, shift = plan.units[0]
    return [base + i * (1 << shift) for i in range(count)]


def sweep(family, points, *, jobs=2, work_dir=None):
    """Synthesize ``points`` (layer, quantizer or threshold-unit points, :data:`POINTS`,
    :data:`CHECK_POINTS`, :data:`QUANTIZER_POINTS`, :data:`THRESHOLD_POINTS`) for ``family``,
    ``jobs`` at a time, with progress; return their CSV rows in the order of ``points``.
    ``work_dir`` keeps Yosys's files (a temporary directory when None)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from ..progress import step

    families.family(family)
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="nomul-calibrate-") as scratch:
            return sweep(family, points, jobs=jobs, work_dir=scratch)
    what = {"layer": "layers", "quantizer": "quantizers", "threshold": "threshold units"}[
        _kind(points[0]) if points else "layer"]
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
                    "compare", "compare_const", "mux", "saturate", "stage"),
           "ffs": ("ff", "stage"),
           "carry": ("adder", "adder_narrow", "compare", "stage")}
# what each feature should cost from first principles (cells per unit), per LUT size: the fit
# is pulled toward these (ridge, PRIOR_WEIGHT) so that a feature the sweep rarely exercises
# keeps a plausible cost instead of dropping to 0
PRIORS = {
    4: {"luts": {"rom": 1, "rom_wide": 2, "memory_wide": 2, "select": 1, "adder": 1,
                 "adder_narrow": 1, "compare": 0.5, "compare_const": 0.5, "mux": 1,
                 "saturate": 1, "stage": 10},
        "ffs": {"ff": 1, "stage": 10}, "carry": {"adder": 1, "adder_narrow": 1, "compare": 1,
                                                 "stage": 5}},
    6: {"luts": {"rom": 1, "rom_wide": 1, "memory_wide": 1, "select": 1 / 3, "adder": 1,
                 "adder_narrow": 1, "compare": 0.5, "compare_const": 0.25, "mux": 1,
                 "saturate": 1, "stage": 10},
        "ffs": {"ff": 1, "stage": 10}, "carry": {"adder": 0.25, "adder_narrow": 0.25,
                                                 "compare": 0.25, "stage": 2}},
    # 2-input gates: a LUT4 function is several gates, a full adder 5, a node of a wide
    # function's BDD (its "rom_wide", "memory_wide") about 1.5
    "gates": {"luts": {"rom": 6, "rom_wide": 1.5, "memory_wide": 1.5, "select": 3,
                       "adder": 6, "adder_narrow": 6, "compare": 3, "compare_const": 2, "mux": 3,
                       "saturate": 3, "stage": 30},
              "ffs": {"ff": 1, "stage": 10}, "carry": {}},
}
PRIOR_WEIGHT = 0.5
# the "fit" threshold units' rows in the fit of the luts, ffs and carry coefficients: each
# weighs THRESHOLD_WEIGHT times a layer's, on its error relative to its count or to
# THRESHOLD_MIN_CELLS cells when smaller (gate-level logic: that many LUTs of GATES_PER_LUT
# gates, a LUT4 function's prior), so that the few LUTs of a small unit, much of them its
# handshake, do not outweigh the large ones. Chosen on the four families' held-out layers and
# tests/hw/test_estimate.py's THRESHOLD_UNITS (2026-11-29): weights 0.4-0.5 with floors 56-72
# keep every family's held-out layers within 20 % as often as without the units and bring
# those units within 20 %; a weight of 1 costs ECP5 and gate-level held-out layers (xc7's too
# without a floor), and without a floor xc7's large parallel units stay 20-30 % under. The
# floor was lowered from 64 to 32 with iCE40's distinct-leaf count (Family.shared_leaves,
# 2026-11-29, sixth session), again on the held-out rows: with it iCE40's small search and
# clamp units (17-37 LUTs) weigh enough to keep its held-out threshold units at 10 of 12 within
# 20 % (8 of 12 at floor 64); weights 0.45-0.5 with floors 24-40 all do, and leave every
# other family's held-out layers and units as they were or better (xc7 units 10 -> 11 of 12)
THRESHOLD_WEIGHT = 0.45
THRESHOLD_MIN_CELLS = 32
GATES_PER_LUT = PRIORS["gates"]["luts"]["rom"]
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


def _fit_layers(rows, featured, family, units=()):
    """``{count: {feature: weight}}``: non-negative least squares on relative error, pulled
    toward the priors, over the :data:`DRIVERS` of each count, on the layer ``rows`` (their
    ``featured``, :func:`_featurize`) and the threshold-unit rows ``units`` (weighted by
    :data:`THRESHOLD_WEIGHT`, :data:`THRESHOLD_MIN_CELLS`)."""
    from scipy.optimize import nnls

    priors = _priors(family)
    unit_features = [threshold_features(threshold_plan(r), family) for r in units]
    coefficients = {}
    for count, drivers in DRIVERS.items():
        if not priors[count]:
            coefficients[count] = {}
            continue
        x = np.array([[f[name] for name in drivers]
                      for f in [f for f, _, _ in featured] + unit_features], dtype=float)
        y = np.array([float(_logic(r, family) if count == "luts" else r[count])
                      for r in [*rows, *units]])
        weight = 1 / np.maximum(y, 1)                 # relative error
        weight[len(rows):] = THRESHOLD_WEIGHT / np.maximum(
            y[len(rows):], _unit_floor(count, family))
        prior = priors[count]
        x = np.vstack([x * weight[:, None], PRIOR_WEIGHT * np.eye(len(drivers))])
        y = np.concatenate([y * weight, [PRIOR_WEIGHT * prior[name] for name in drivers]])
        solution, _ = nnls(x, y)
        coefficients[count] = {name: round(float(v), 4) for name, v in zip(drivers, solution)}
    return coefficients


def _unit_floor(count, family):
    """The count below which a threshold unit's error weighs as at that count
    (:data:`THRESHOLD_MIN_CELLS`; in gates for the gate-level family's logic)."""
    gates = count == "luts" and families.logic_key(family) == "gates"
    return THRESHOLD_MIN_CELLS * (GATES_PER_LUT if gates else 1)


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


def _check_units(rows, family, coefficients, unit_features, describe):
    """``({points, luts_within_20pct, luts_median_abs_error}, per-row results)`` on held-out
    unit rows (quantizers or threshold units): ``unit_features(row, family)`` their features,
    ``describe(row)`` the columns that name each in the results."""
    from .estimate import cells_from_features

    errors, results = [], []
    for row in rows:
        cells = cells_from_features(unit_features(row, family), family, {family: coefficients})
        estimated = cells[families.logic_key(family)]
        errors.append((estimated - _logic(row, family)) / _logic(row, family))
        results.append({**describe(row), "luts": _logic(row, family), "luts_est": estimated,
                        "luts_error": round(errors[-1], 4)})
    errors = np.abs(errors)
    return {"points": len(rows), "luts_within_20pct": float(np.mean(errors <= 0.20)),
            "luts_median_abs_error": round(float(np.median(errors)), 4)}, results


def _check_quantizers(rows, family, coefficients):
    """:func:`_check_units` on held-out quantizer rows."""
    return _check_units(rows, family, coefficients, _quantizer_features,
                        lambda row: {"style": row["style"], "raw_min": int(row["raw_min"]),
                                     "raw_max": int(row["raw_max"]),
                                     "thresholds": row["thresholds"]})


def _check_thresholds(rows, family, coefficients):
    """:func:`_check_units` on held-out threshold-unit rows."""
    return _check_units(rows, family, coefficients,
                        lambda row, family: threshold_features(threshold_plan(row), family),
                        lambda row: {c: row[c] for c in THRESHOLD_KEY_COLUMNS if c in row})


def _threshold_rows(rows, split, skipped):
    """The threshold-unit rows of ``split`` that Yosys counted (-1: it could not)."""
    chosen = [r for r in rows if r["split"] == split]
    skipped += [f"threshold unit {r['method']} {r.get('spacing', '')} {r['width']} bits, "
                f"{len(r['thresholds'].split())} thresholds: Yosys could not count it"
                for r in chosen if int(r["luts"]) < 0]
    return [r for r in chosen if int(r["luts"]) >= 0]


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
    figures}, thresholds: figures}}, "layers": per held-out layer rows (:data:`CHECK_COLUMNS`),
    "quantizers": per held-out quantizer results, "thresholds": per held-out threshold-unit
    results, "skipped": rows left out, why}``. Nothing is written
    (:func:`write_fit`). A missing or unreadable CSV is a one-line
    :class:`~nomul.errors.OptionsError`.
    """
    from .estimate import cells_from_features

    families.family(family)
    data_dir = Path(data_dir) if data_dir is not None else families.data_dir(family)
    sweep_rows, check_rows, quantizers, thresholds = (_read(family, part, data_dir)
                                                      for part in PARTS)
    skipped = []
    coefficients = _fit_layers(sweep_rows, _featurize(sweep_rows, family), family,
                               _threshold_rows(thresholds, "fit", skipped))
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
    check["thresholds"], threshold_results = _check_thresholds(
        _threshold_rows(thresholds, "check", skipped), family, coefficients)
    return {"family": family, "coefficients": coefficients, "check": check, "layers": layers,
            "quantizers": quantizer_results, "thresholds": threshold_results,
            "skipped": skipped}


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
    or architecture, ``arch`` with the quantizers or threshold units, or a CSV the fit needs
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
    units = [{"quantizers": "quantizers", "thresholds": "threshold units"}[p]
             for p in parts if p in ("quantizers", "thresholds")]
    if synthesize and arch is not None and units:
        raise OptionsError(f"arch {arch} selects layers; the {' and '.join(units)} have no "
                           "architecture (give the parts sweep and/or check)")
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
    """``{part: points}``: the layer and threshold-unit points of the current sweep
    (:data:`POINTS`, :data:`CHECK_POINTS`, :data:`THRESHOLD_POINTS`) that ``family``'s CSVs
    lack. A family calibrated before points were added, or before a change of the hardware
    they measure, lacks them until ``nomul calibrate FAMILY`` runs again; its figures then
    describe the older calibration."""
    data_dir = families.data_dir(family) if data_dir is None else data_dir
    missing = {}
    for part in ("sweep", "check", "thresholds"):
        path = _part_path(family, part, data_dir)
        with open(path, newline="") as handle:
            have = {_row_key(part, row) for row in csv.DictReader(handle)}
        missing[part] = [p for p in PART_POINTS[part]
                         if tuple(str(v) for v in p) not in have]
    return missing


def _row_key(part, row):
    """The point a CSV row of a layer or threshold-unit part measured, as strings (a layer
    row without ``table`` has a random one)."""
    if part == "thresholds":
        return tuple(str(row.get(c)) for c in THRESHOLD_KEY_COLUMNS)
    return tuple(str(row.get(c, "random")) for c in KEY_COLUMNS)


def _write_rows(path, part, rows):
    """Write a part's CSV, rows in the order of its points (rows of points no longer in the
    list last)."""
    order = {tuple(str(v) for v in point): n for n, point in enumerate(PART_POINTS[part])}
    if part in ("sweep", "check"):
        rows = sorted(rows, key=lambda row: order.get(_row_key(part, row), len(order)))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS[part])
        writer.writeheader()
        writer.writerows(rows)
