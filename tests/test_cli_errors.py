# SPDX-License-Identifier: MIT
"""Every command tried as a new user would: bad options and paths are one line, refused before
any long work; options that do not apply are refused, not ignored; bugs show a traceback."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nomul import __version__
from nomul.cli import main
from nomul.design import BuildOptions

NOMUL = Path(sys.executable).with_name("nomul")


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("NOMUL_DEBUG", raising=False)


def _run(capsys, *argv):
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exit_:                     # argparse usage errors and --version
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def _one_line(err):
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.npz"
    assert main(["random", "--arch", "64-6-10", "--seed", "1", "-o", str(path)]) == 0
    return path


@pytest.fixture
def no_long_work(monkeypatch):
    """Fail the test if synthesis, place and route, training data or Verilog emission start."""
    import nomul.gateware.emit
    import nomul.hw.pnr
    import nomul.hw.synth
    import nomul.models.datasets

    def refuse(*args, **kwargs):
        raise AssertionError("long work started before the options were checked")

    monkeypatch.setattr(nomul.hw.synth, "synthesize_design", refuse)
    monkeypatch.setattr(nomul.hw.pnr, "place_and_route", refuse)
    monkeypatch.setattr(nomul.models.datasets, "load_dataset", refuse)
    monkeypatch.setattr(nomul.gateware.emit, "emit_verilog", refuse)


def test_version(capsys):
    status, out, _ = _run(capsys, "--version")
    assert status == 0 and out.strip() == f"nomul {__version__}"


@pytest.mark.parametrize("family", ["xilinx", "gates"])
@pytest.mark.parametrize("synth", [[], ["--synth"]], ids=["pnr", "synth+pnr"])
def test_pnr_on_a_family_without_a_device_is_refused_first(capsys, model, no_long_work, family,
                                                           synth):
    status, _, err = _run(capsys, "estimate", model, "--family", family, "--pnr", *synth)
    assert status == 2
    assert f"not --family {family}" in _one_line(err)


@pytest.mark.parametrize("argv, message", [
    (["--plot", "{tmp}/nowhere/x.png"], "the directory"),
    (["--plot", "{tmp}/x.gif"], "give a file ending in .png, .svg, .pdf"),
    (["--synth"], "--synth: not with --tables"),
    (["--baseline"], "--baseline: not with --tables"),
    (["--group-inputs", "2"], "--group-inputs: not with --tables"),
    (["--pe", "2"], "--pe and --simd concern folded layers"),
    (["--entry-bits", "400"], "--entry-bits 400 exceeds"),
    (["--inputs", "100000"], "weights; the limit is"),
])
def test_bad_table_options_are_one_line(capsys, tmp_path, no_long_work, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    status, out, err = _run(capsys, "estimate", "--tables", "--act-levels", "2,4",
                            "--weight-levels", "2,4", *argv)
    assert status == 2 and out == ""
    assert message in _one_line(err)
    assert list(tmp_path.iterdir()) == []             # nothing written


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_table_plots_in_every_format_are_reproducible(capsys, tmp_path, suffix):
    paths = [tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"]
    for path in paths:
        status, _, err = _run(capsys, "estimate", "--tables", "--act-levels", "2,4",
                              "--weight-levels", "2,4", "--plot", path)
        assert status == 0, err
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_a_failed_plot_leaves_no_file(capsys, tmp_path, monkeypatch):
    import matplotlib.figure

    def broken(self, *args, **kwargs):
        Path(args[0]).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    with pytest.raises(OSError):
        main(["estimate", "--tables", "--act-levels", "2", "--weight-levels", "2", "--plot",
              str(tmp_path / "x.png")])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, message", [
    (["MODEL", "--tables", "--act-levels", "2", "--weight-levels", "2"], "leave out MODEL"),
    (["MODEL", "--plot", "x.png"], "--plot: only with --tables"),
    (["MODEL", "--act-levels", "2,4"], "--act-levels: only with --tables"),
    (["MODEL", "--work-dir", "{tmp}/w"], "--work-dir keeps the files of --synth or --pnr"),
    (["MODEL", "--pnr-seeds", "3"], "--pnr-seeds goes with --pnr"),
    (["MODEL", "--pnr", "--pnr-seeds", "0"], "--pnr-seeds must be a positive integer"),
    (["MODEL", "--synth", "--work-dir", "{model}"], "is a file, not a directory"),
    ([], "give a MODEL"),
    (["MODEL", "--adders", "ternary"],
     "adders ternary instantiates Xilinx primitives (LUT6_2, CARRY4): the design is for "
     "family xilinx, not ice40"),
    (["MODEL", "--adders", "ternary", "--family", "ecp5", "--synth"], "not ecp5"),
])
def test_bad_estimate_options_are_one_line(capsys, tmp_path, model, no_long_work, argv,
                                           message):
    argv = [a.format(tmp=tmp_path, model=model) if a != "MODEL" else model for a in argv]
    status, _, err = _run(capsys, "estimate", *argv)
    assert status == 2
    assert message in _one_line(err)


@pytest.mark.parametrize("argv, message", [
    (["--pe", "2"], "pe does not apply to this design: it concerns folded layers"),
    (["--simd", "2"], "simd does not apply"),
    (["--table-style", "block"], "table_style does not apply"),
    (["--weight-style", "block"], "weight_style does not apply"),
    (["--arch", "folded", "--group-inputs", "2"], "group_inputs does not apply"),
    (["--arch", "folded", "--threshold-method", "search"], "threshold_method does not apply"),
    (["--arch", "unrolled,folded", "--pe", "2,2"],
     "--pe concerns folded layers (arch folded); layer 0 (dense, unrolled) is not one"),
    (["--pe", "0"], "--pe must be a positive integer"),
    (["--arch", "folded", "--adders", "ternary"], "adders does not apply"),
    (["--adders", "quaternary"], "adders: unknown value 'quaternary'; choose from binary, "
     "ternary"),
    (["--arch", "folded", "--sum-register", "off"], "sum_register does not apply"),
    (["--sum-register", "maybe"], "sum_register: unknown value 'maybe'; choose from on, off"),
])
def test_options_that_do_not_apply_are_refused(capsys, tmp_path, model, no_long_work, argv,
                                               message):
    status, _, err = _run(capsys, "build", model, "-o", tmp_path / "rtl", *argv)
    assert status == 2
    assert message in _one_line(err)
    assert not (tmp_path / "rtl").exists()


def test_an_option_given_once_goes_to_the_layers_it_concerns(capsys, tmp_path, model):
    status, out, err = _run(capsys, "build", model, "-o", tmp_path / "rtl", "--arch",
                            "unrolled,folded", "--pe", "2", "--json")
    assert status == 0, err
    layers = json.loads(out)["layers"]
    assert (layers[0]["arch"], layers[1]["arch"], layers[1]["pe"]) == ("unrolled", "folded", 2)


def test_sum_register_off_takes_a_cycle_from_every_unrolled_layer(capsys, tmp_path, model):
    layers = {}
    for sums in ("on", "off"):
        status, out, err = _run(capsys, "build", model, "-o", tmp_path / sums, "--sum-register",
                                sums, "--json")
        assert status == 0, err
        layers[sums] = json.loads(out)["layers"]
    assert [layer["latency"] for layer in layers["off"]] == \
        [layer["latency"] - 1 for layer in layers["on"]]


def test_input_register_off_takes_a_cycle_from_an_unrolled_design(capsys, tmp_path, model):
    manifests = {}
    for state in ("on", "off"):
        status, out, err = _run(capsys, "build", model, "-o", tmp_path / state,
                                "--input-register", state, "--json")
        assert status == 0, err
        manifests[state] = json.loads(out)
    assert manifests["off"]["latency"] == manifests["on"]["latency"] - 1
    assert manifests["off"]["options"]["input_register"] is False
    assert "input_register" not in manifests["on"]["options"]      # default manifests as before
    assert BuildOptions.from_description(manifests["off"]["options"]).input_register is False


@pytest.mark.parametrize("command", ["build", "board"])
def test_unusable_output_directories_are_refused_first(capsys, tmp_path, model, no_long_work,
                                                        command):
    extra = ["--board", "icebreaker"] if command == "board" else []
    for output, message in ((model, "is a file"), (model / "sub", "lies under the file")):
        status, _, err = _run(capsys, command, model, "-o", output, *extra)
        assert status == 2 and message in _one_line(err)


def test_sim_vcd_into_a_missing_directory_is_refused_first(capsys, tmp_path, model,
                                                          no_long_work):
    status, _, err = _run(capsys, "sim", model, "--dataset", "digits", "--vcd",
                          tmp_path / "no" / "w.vcd")
    assert status == 2 and "the directory" in _one_line(err)


def test_the_amaranth_simulator_refuses_vendor_primitives(capsys, model, no_long_work):
    status, _, err = _run(capsys, "sim", model, "--dataset", "digits", "--adders", "ternary",
                          "--simulator", "amaranth", "--samples", "2")
    assert status == 2
    assert _one_line(err) == ("nomul: error: the amaranth simulator cannot run xilinx "
                              "primitives (adders ternary); use fast, verilator or icarus")


@pytest.mark.parametrize("argv, message", [
    (["--recipe", "tbnu", "-o", "{tmp}/no/m.npz"], "the directory"),
    (["--recipe", "foo", "-o", "{tmp}/m.npz"], "unknown recipe 'foo'"),
    (["--recipe", "tbnu", "--per-layer", "-o", "{tmp}/m.npz"],
     "per_layer does not apply to the tbnu recipe"),
    (["--recipe", "nmnf", "--input-levels", "4", "-o", "{tmp}/m.npz"],
     "input_levels does not apply to the nmnf recipe"),
    (["--recipe", "nmnf", "--act-codebook", "kmeans", "-o", "{tmp}/m.npz"],
     "act_codebook does not apply to the nmnf recipe"),
])
def test_train_checks_everything_before_loading_data(capsys, tmp_path, no_long_work, argv,
                                                     message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    status, _, err = _run(capsys, "train", "--dataset", "digits", "--act-levels", "3",
                          "--weight-levels", "3", *argv)
    assert status == 2
    assert message in _one_line(err)


@pytest.mark.parametrize("argv, message", [
    (["--input-shape", "8x8"], "--input-shape 8x8 does not match the input 64"),
    (["--input-shape", "8xx8"], "--input-shape: input shape '8xx8' is not like"),
    (["--input-shape", "axb"], "--input-shape: input shape 'axb' is not like"),
    (["--arch", "8-1"], "argmax over one output always answers 0"),
])
def test_random_input_shapes_and_one_class(capsys, tmp_path, argv, message):
    status, _, err = _run(capsys, "random", *argv, "-o", tmp_path / "m.npz")
    assert status == 2 and message in _one_line(err)
    assert not (tmp_path / "m.npz").exists()


def test_info_fits_an_80_column_terminal(tmp_path, model):
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm"}
    env.pop("NOMUL_DEBUG", None)
    result = subprocess.run([str(NOMUL), "info", str(model)], capture_output=True, text=True,
                            env=env, timeout=60, check=True)
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert sum(" dense " in line for line in lines) == 2          # both layers' rows


def test_a_bug_shows_its_traceback(capsys, model, monkeypatch):
    """A ValueError from inside nomul is a bug, not a user error: it is not hidden."""
    import nomul.models.info

    def broken(model):
        raise ValueError("an internal inconsistency")

    monkeypatch.setattr(nomul.models.info, "model_info", broken)
    with pytest.raises(ValueError, match="an internal inconsistency"):
        main(["info", str(model)])
    assert "internal error" in capsys.readouterr().err


def test_json_output_has_no_progress(tmp_path, model):
    """Progress goes to stderr and only on a terminal; --json stdout is exactly the JSON."""
    env = {k: v for k, v in os.environ.items() if k != "NOMUL_DEBUG"}
    result = subprocess.run([str(NOMUL), "build", str(model), "-o", str(tmp_path / "b"),
                             "--json"], capture_output=True, text=True, env=env, timeout=300,
                            check=True)
    assert json.loads(result.stdout)["top"] == "nomul_top"
    assert result.stderr == ""
