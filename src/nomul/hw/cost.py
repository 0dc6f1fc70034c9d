# SPDX-License-Identifier: MIT
"""Cost reports of a model as built: the analytical estimate, Yosys, nextpnr, the baseline.

:func:`cost_report` is what ``nomul estimate MODEL`` prints: per stage (quantizer, then one
per layer) and in total, LUTs (``gates`` for the gate-level family), FFs, carry cells, block
RAMs, DSPs and multipliers, from the analytical model (:mod:`nomul.hw.estimate`, ``source
"model"``) or from Yosys (``--synth``, ``source "yosys"``, the model's figures kept beside
them), optionally placed and routed (``--pnr``: Fmax and utilization on the family's device),
and optionally beside the multiplier baseline (:func:`nomul.design.lower` with
``baseline="integer"``) built with the same options and measured the same way.

:func:`table_costs` is ``nomul estimate --tables``: what one product table, and a reference
dense layer using it, cost at each table size.
"""

import tempfile
import time
from pathlib import Path

from ..errors import OptionsError
from . import families
from .estimate import COUNT_KEYS, FEATURES, cells_from_features, estimate_design, estimate_stage

__all__ = ["COUNT_KEYS", "DESIGN_LABELS", "cost_report", "design_cost", "table_costs",
           "reference_layer", "reference_plan"]


# the designs a cost report holds (its own keys), as the text output and the report name them
DESIGN_LABELS = {"nomul": "nomul (product tables)",
                 "codebook_baseline": "codebook baseline (index ROM + codebook + multiplier)",
                 "baseline": "integer baseline (weight ROM + multiplier)"}


def _counts(report):
    return {key: int(report.get(key, 0)) for key in COUNT_KEYS}


def _capacity_check(counts, family):
    """``{"device", "fits", "short"}``: the counts against the family's place-and-route device
    (nothing for families without one). A block RAM shortage names the memories to blame."""
    device = families.family(family).device
    if device is None:
        return {}
    short = [f"{counts[key]} {key} of {available}"
             for key, available in device.capacity.items() if counts[key] > available]
    if counts["brams"] > device.capacity["brams"]:
        blocks = [f"{stage['stage']} {m['memory']} {m['depth']} x {m['width']} x "
                  f"{m['read_ports']} ports: {m['cells']} blocks"
                  for stage in counts["stages"] for m in stage["memories"]
                  if m["mapped_to"] == "block"]
        short.append("block RAM goes to " + "; ".join(blocks)
                     + " (fold with fewer PE x SIMD, or table_style logic)")
    return {"device": device.name, "fits": not short, "short": short}


def _needs_synth(family):
    return f"--family {family} has no analytical estimate: it needs --synth (Yosys)"


def lut_equivalents(counts, family, multiplier_luts):
    """LUTs plus every block RAM at its capacity in LUT bits (``2**lut_inputs`` bits a LUT;
    ``bram_bits``, each block RAM at its own cell's capacity: an xc7 RAMB18 half a RAMB36)
    plus every DSP at ``multiplier_luts`` (the LUTs its multiplication costs in logic, by the
    estimate): one figure to compare designs that use different resources. The gate-level
    family has neither RAM nor DSP: its gates."""
    spec = families.family(family)
    if spec.logic == "gates":
        return counts["gates"]
    return int(round(counts["luts"] + counts["bram_bits"] / (1 << spec.lut_inputs)
                     + counts["dsps"] * multiplier_luts))


def _multiplier_luts(model_estimate, family):
    """The mean LUTs of the design's multiplications as array multipliers in logic (0 for a
    design without any)."""
    sizes = [(a, b) for stage in model_estimate["stages"].values()
             for a, b in stage.get("multiplied", [])]
    if not sizes:
        return 0.0
    logic = families.family(family).logic
    return sum(cells_from_features({name: a * b if name == "adder" else 0
                                    for name in FEATURES}, family)[logic]
               for a, b in sizes) / len(sizes)


def design_cost(design, family, *, synth=False, pnr=False, pnr_seeds=1, work_dir=None):
    """Per-stage and total counts of one :class:`~nomul.design.Design` (see
    :func:`cost_report`); ``work_dir`` keeps the tools' files (a temporary directory when
    None)."""
    spec = families.family(family)
    device = spec.device
    design.check_family(family)
    if not spec.analytical and not synth:
        raise OptionsError(_needs_synth(family))
    if pnr and device is None:
        placeable = [name for name, spec in families.FAMILIES.items() if spec.device]
        raise OptionsError(f"pnr places and routes on {' or '.join(placeable)} devices; "
                           f"not {family}")
    if (synth or pnr) and work_dir is None:
        with tempfile.TemporaryDirectory(prefix="nomul-cost-") as scratch:
            return design_cost(design, family, synth=synth, pnr=pnr, pnr_seeds=pnr_seeds,
                               work_dir=scratch)
    start = time.perf_counter()
    # a family without a model (the ASIC target) takes the stages and their memories' mapping
    # from the gate-level family's (no block RAM either); its figures are not reported
    model_family = family if spec.analytical else "gates"
    model_estimate = estimate_design(design, model_family)
    estimate_seconds = time.perf_counter() - start
    stages = [{"stage": name, **_counts(stage),
               "memories": stage["memories"]} for name, stage in model_estimate["stages"].items()]
    result = {"source": "model", **_counts(model_estimate["total"]), "stages": stages,
              "estimate_seconds": round(estimate_seconds, 4)}
    multiplier_luts = _multiplier_luts(model_estimate, model_family)
    result.update(_capacity_check(result, family))
    if pnr and not synth and not result["fits"]:
        pnr = False                  # the estimate already says it does not fit: no tools
        result.update(fmax_mhz=None, utilization={})
    result["lut_equivalents"] = lut_equivalents(result, family, multiplier_luts)
    if synth or pnr:
        from .synth import synthesize_design

        start = time.perf_counter()
        synthesized = synthesize_design(design, family, Path(work_dir) / "synth")
        result["synth_seconds"] = round(time.perf_counter() - start, 2)
        for stage in stages:
            measured = synthesized["stages"][stage["stage"]]
            if spec.analytical:
                stage["estimate"] = {key: stage[key] for key in COUNT_KEYS}
            stage.update(_counts(measured))
            if "area_um2" in measured:
                stage["area_um2"] = measured["area_um2"]
        if spec.analytical:
            result["estimate"] = _counts(model_estimate["total"])
            result["estimate"]["lut_equivalents"] = result["lut_equivalents"]
        result.update(_counts(synthesized["total"]), source="yosys")
        if "area_um2" in synthesized["total"]:
            result["area_um2"] = synthesized["total"]["area_um2"]
        result["lut_equivalents"] = lut_equivalents(result, family, multiplier_luts)
        result.update(_capacity_check(result, family))
    if pnr and result["fits"]:
        from ..gateware.emit import design_verilog
        from .pnr import place_and_route

        directory = Path(work_dir) / "pnr"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "top.v").write_text(design_verilog(design))
        placed = place_and_route(directory / "top.v", design.name, design.in_port.bits,
                                 design.out_port.bits, device.key, directory / "run",
                                 seeds=tuple(range(1, pnr_seeds + 1)))
        result.update(device=placed["device"], fits=placed["fits"],
                      fmax_mhz=placed["fmax_mhz"], utilization=placed["utilization"],
                      short=placed["short"], critical_path=placed["critical_path"])
        if placed["fmax_mhz"] is not None:
            result.update(seed=placed["seed"], fmax_by_seed=placed["fmax_by_seed"])
    elif pnr:
        result.update(fmax_mhz=None, utilization={})
    return result


def cost_report(model, options, family, *, synth=False, pnr=False, pnr_seeds=1,
                baseline=False, work_dir=None, design=None):
    """The cost of ``model`` built with ``options`` on ``family`` (one of
    :data:`nomul.hw.families.FAMILIES`).

    Returns ``{"family", "source", luts, ffs, carry, brams, dsps, gates, multipliers,
    "stages": [per stage counts and memories], ...}``; with ``synth`` the counts are Yosys's
    (``source "yosys"``) and ``"estimate"`` holds the model's totals (each stage its own);
    for a family with a device (ice40: UP5K, ecp5: 25k) ``device``, ``fits`` and ``short``
    (what the device lacks) from the counts against it; with ``pnr`` the design is placed
    and routed there (when it fits: a design the estimate puts beyond the device is not even
    synthesized unless ``synth`` asks for it) and ``fmax_mhz`` and ``utilization`` come from
    nextpnr (and ``critical_path``, :func:`nomul.hw.pnr.critical_path`), the best of the
    placer seeds 1 .. ``pnr_seeds`` (``seed``; ``fmax_by_seed`` every seed's); with ``baseline``
    a ``"baseline"`` object of the same form for the integer multiplier design (weights
    stored as integers) and a ``"codebook_baseline"`` one for the codebook multiplier design
    (weights stored as codeword indices, a K-entry codebook ROM before the multiplier); every
    design has ``lut_equivalents`` (:func:`lut_equivalents`). The ASIC target (``sky130``)
    needs ``synth`` (it has no analytical model: no ``estimate``) and gives ``area_um2`` per
    stage and in total, ``gates`` counting its logic cells. ``design``: ``model`` already
    lowered with ``options`` (it is not lowered again).
    """
    from ..design import lower

    spec = families.family(family)              # an unknown family: refused before any work
    if not spec.analytical and not synth:
        raise OptionsError(_needs_synth(family))
    spec.check_needs()                          # a missing package: likewise
    designs = {"nomul": lower(model, options) if design is None else design}
    if baseline:
        designs["baseline"] = lower(model, options, baseline="integer")
        designs["codebook_baseline"] = lower(model, options, baseline="codebook")
    with tempfile.TemporaryDirectory(prefix="nomul-cost-") as scratch:
        work = Path(work_dir or scratch)
        reports = {name: design_cost(design, family, synth=synth, pnr=pnr,
                                     pnr_seeds=pnr_seeds, work_dir=work / name)
                   for name, design in designs.items()}
    report = {"family": family, **reports["nomul"]}
    if baseline:
        report["baseline"] = reports["baseline"]
        report["codebook_baseline"] = reports["codebook_baseline"]
    return report


# -- table sizes ---------------------------------------------------------------------------

def reference_layer(act_levels, weight_levels, entry_bits, inputs, outputs, *, seed=0,
                    table="random"):
    """A random dense layer (fixed seed) whose product table has ``act_levels`` rows of
    ``weight_levels`` codewords, entries spanning ``entry_bits`` signed bits, 4 output
    levels: the layer ``nomul estimate --tables`` and the synthesis sweeps cost.

    ``table="linear"``: entries ``level * codeword`` (a trained scalar codebook's table),
    thresholds evenly spaced by a power of two (a clipped ReLU's), as in the shared digits
    model; ``"saturating"``: a KAN compiled to tables (one random codeword per edge, so
    ``weight_levels`` must be ``inputs * outputs``) with a saturating 7-bit requantization
    (127 thresholds evenly spaced by a power of two); ``"random"``: random entries and
    thresholds."""
    import numpy as np

    from ..models.spec import Activation, Dense

    if entry_bits < 2:
        raise OptionsError(f"entry_bits must be >= 2, not {entry_bits}")
    if table not in ("random", "linear", "saturating"):
        raise OptionsError(f"table must be random, linear or saturating, not {table!r}")
    if table == "saturating" and weight_levels != inputs * outputs:
        raise OptionsError("a saturating (per-edge) layer needs inputs * outputs codewords")
    rng = np.random.default_rng(seed)
    half = 1 << (entry_bits - 1)
    if table == "linear":
        largest = max(1, (half - 1) // max(1, act_levels - 1))
        codebook = rng.integers(-largest, largest + 1, size=weight_levels)
        codebook[0], codebook[-1] = -largest, largest
        products = np.arange(act_levels)[:, None] * codebook[None, :]
    else:
        products = rng.integers(-half, half, size=(act_levels, weight_levels))
        products[0, 0], products[-1, -1] = -half, half - 1    # use the full entry width
    index = rng.integers(0, weight_levels, size=(outputs, inputs))
    if table == "saturating":
        index = np.arange(inputs * outputs).reshape(outputs, inputs)
    bound = int(np.abs(products).max()) * inputs
    if table == "saturating":
        step = 1 << max(0, (2 * bound >> 7).bit_length() - 1)
        first = rng.integers(-bound // 2, -bound // 4 + 1, size=(outputs, 1))
        thresholds = first + step * np.arange(127)[None, :]
    elif table == "linear":
        step = 1 << max(0, (bound // 16).bit_length() - 1)
        first = rng.integers(-bound // 8, bound // 8 + 1, size=(outputs, 1))
        thresholds = first + step * np.arange(3)[None, :]
    else:
        thresholds = np.sort(rng.integers(-bound // 4, bound // 4 + 1, size=(outputs, 3)),
                             axis=1)
    return Dense(in_levels=act_levels, group=1, table=products, weight_index=index,
                 bias=rng.integers(-half, half, size=outputs),
                 activation=Activation("thresholds", thresholds))


def reference_plan(act_levels, weight_levels, entry_bits, inputs, outputs, options, *,
                   table="random"):
    """:func:`reference_layer` lowered alone as the layer ``options`` (a
    :class:`~nomul.design.LayerOptions`) say (unrolled or folded): one point of the synthesis
    sweeps."""
    from ..design.lower import weighted_plan

    layer = reference_layer(act_levels, weight_levels, entry_bits, inputs, outputs,
                            table=table)
    return weighted_plan(layer, (inputs,), options)


def table_costs(act_levels, weight_levels, entry_bits, family, layer_options, *, inputs=64,
                outputs=32):
    """One row per (A, K): the product table alone (entries, bits, as LUT logic and as block
    RAM) and a reference dense layer (``inputs`` -> ``outputs``, :func:`reference_layer`)
    built with ``layer_options``, estimated for ``family``."""
    from ..design.cost import table_function_luts
    from ..design.lower import weighted_plan
    from ..design.plans import Memory
    from ..design.tables import code_columns
    from ..numeric import index_width
    from .estimate import map_memory

    spec = families.family(family)
    weights = spec.coefficients()["luts"]
    rows = []
    for a in act_levels:
        for k in weight_levels:
            layer = reference_layer(a, k, entry_bits, inputs, outputs)
            code_bits = index_width(a)
            depth = k << code_bits          # as a folded layer stores it: Cat(code, codeword)
            words = [v for column in code_columns(layer.table, a, 1) for v in column]
            narrow, wide, _ = table_function_luts(words, index_width(depth), entry_bits,
                                                  spec.lut_inputs, spec.shared_leaves)
            block = map_memory(Memory("product table", depth, entry_bits, 1, "block"),
                               family)[1] if spec.block_rams else None
            start = time.perf_counter()
            cost = estimate_stage(weighted_plan(layer, (inputs,), layer_options), family)
            rows.append({"act_levels": a, "weight_levels": k, "entries": a * k,
                         "table_bits": a * k * entry_bits,
                         "table_luts_as_logic": round(weights["rom"] * narrow
                                                      + weights["rom_wide"] * wide),
                         "table_brams_as_block": block,
                         "layer": {**_counts(cost), "memories": cost["memories"]},
                         "seconds": round(time.perf_counter() - start, 4)})
    return rows
