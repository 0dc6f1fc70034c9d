# SPDX-License-Identifier: MIT
"""``nomul sim``: the test split through the hardware, agreement and accuracy, mismatch reports.

Expected accuracies come from the reference run here with plain numpy; the hardware's outputs
come from the simulators. A real mismatch is made by simulating one model's Verilog against
another model.
"""

import json

import numpy as np
import pytest

from nomul.cli import main
from nomul.models import reference
from nomul.models.datasets import load_dataset
from nomul.models.modelfile import load_model, model_to_bytes
from nomul.sim import runner

SAMPLES = 30


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("NOMUL_DEBUG", raising=False)


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("NOMUL_CACHE", str(tmp_path / "cache"))


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _random_model(capsys, path, seed=0):
    status, _, err = _run(capsys, "random", "--arch", "64-6-10", "--seed", seed, "-o", path)
    assert status == 0, err
    return load_model(path)


def _reference_accuracy(model):
    digits = load_dataset("digits")
    predictions = reference.run(model, digits.x_test[:SAMPLES])
    return float(np.mean(predictions == digits.y_test[:SAMPLES]))


@pytest.mark.parametrize("simulator", [
    pytest.param("fast", marks=pytest.mark.slow), "amaranth"])
@pytest.mark.parametrize("arch", ["unrolled", "folded"])
def test_sim_agrees_and_reports(capsys, tmp_path, simulator, arch):
    model = _random_model(capsys, tmp_path / "m.npz")
    extra = ["--pe", 2, "--simd", 2] if arch == "folded" else []
    status, out, err = _run(capsys, "sim", tmp_path / "m.npz", "--dataset", "digits",
                            "--samples", SAMPLES, "--simulator", simulator, "--arch", arch,
                            *extra, "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["simulator"] == simulator and report["samples"] == SAMPLES
    assert report["agreement"] == 1.0
    assert report["accuracy"] == _reference_accuracy(model)
    assert report["latency"] == report["manifest_latency"]
    assert report["ii"] == report["manifest_ii"]
    assert report["cycles_per_inference"] >= report["ii"]
    assert report["cycles_per_second"] > 0


@pytest.mark.slow
def test_sim_of_a_build_directory_in_text(capsys, tmp_path):
    model = _random_model(capsys, tmp_path / "m.npz")
    assert _run(capsys, "build", tmp_path / "m.npz", "-o", tmp_path / "rtl")[0] == 0
    status, out, err = _run(capsys, "sim", tmp_path / "m.npz", "--dataset", "digits",
                            "--samples", SAMPLES, "--build", tmp_path / "rtl")
    assert status == 0, err
    assert f"agreement with the reference: 100.00 % ({SAMPLES}/{SAMPLES})" in out
    assert f"hardware accuracy:            {100 * _reference_accuracy(model):.2f} %" in out


@pytest.mark.slow
def test_a_mismatch_exits_non_zero_with_the_first_differing_sample(capsys, tmp_path):
    """Model A's Verilog simulated as if it were model B's: the report names the first sample
    where they differ, with B's per-layer values."""
    _random_model(capsys, tmp_path / "a.npz", seed=1)
    other = _random_model(capsys, tmp_path / "b.npz", seed=2)
    assert _run(capsys, "build", tmp_path / "a.npz", "-o", tmp_path / "rtl")[0] == 0
    manifest_path = tmp_path / "rtl" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    import hashlib

    manifest["model_sha256"] = hashlib.sha256(model_to_bytes(other)).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    status, out, err = _run(capsys, "sim", tmp_path / "b.npz", "--dataset", "digits",
                            "--samples", SAMPLES, "--build", tmp_path / "rtl", "--json")
    assert status == 1
    report = json.loads(out)
    bad = report["first_mismatch"]
    digits = load_dataset("digits")
    _, _, traces = reference.run(other, digits.x_test[:SAMPLES], trace=True)
    expected = traces[-1].out
    first = bad["sample"]
    assert bad["expected"] == int(expected[first])
    assert bad["hardware"] != bad["expected"]
    assert report["agreement"] < 1.0
    # every sample before the first reported one agreed; the per-layer values are B's
    a = load_model(tmp_path / "a.npz")
    hardware = reference.run(a, digits.x_test[:SAMPLES])
    assert list(hardware[:first]) == list(expected[:first])
    assert bad["layers"][0]["accumulator"] == traces[0].acc[first].tolist()
    assert bad["layers"][-1]["output"] == [int(expected[first])]
    status, out, err = _run(capsys, "sim", tmp_path / "b.npz", "--dataset", "digits",
                            "--samples", SAMPLES, "--build", tmp_path / "rtl")
    assert status == 1
    assert f"MISMATCH at sample {first}" in err and "layer 0 dense: accumulator" in err


@pytest.mark.slow
def test_fast_sim_writes_a_vcd(capsys, tmp_path):
    _random_model(capsys, tmp_path / "m.npz")
    status, _, err = _run(capsys, "sim", tmp_path / "m.npz", "--dataset", "digits",
                          "--samples", 3, "--vcd", tmp_path / "wave.vcd")
    assert status == 0, err
    text = (tmp_path / "wave.vcd").read_text()
    assert "$enddefinitions" in text and "o__valid" in text


@pytest.mark.parametrize("argv, message", [
    (["--build", "{rtl}", "--arch", "folded"], "leave out --arch"),
    (["--simulator", "icarus", "--vcd", "{tmp}/w.vcd"], "vcd works with"),
    (["--build", "{tmp}/nowhere"], "not a nomul build manifest"),
    (["--pe", "0"], "--pe must be a positive integer"),
    (["--idle", "1.5"], "must be in [0, 1)"),
    (["--simulator", "modelsim"], "invalid choice"),
])
def test_bad_sim_options_are_one_line(capsys, tmp_path, argv, message):
    _random_model(capsys, tmp_path / "m.npz")
    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "manifest.json").write_text(json.dumps({"top": "nomul_top"}))
    argv = [a.format(rtl=tmp_path / "rtl", tmp=tmp_path) for a in argv]
    try:
        status, out, err = _run(capsys, "sim", tmp_path / "m.npz", "--dataset", "digits", *argv)
    except SystemExit as exit_:                        # argparse usage errors
        status, err = exit_.code, capsys.readouterr().err
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_build_of_another_model_is_refused(capsys, tmp_path):
    _random_model(capsys, tmp_path / "a.npz", seed=1)
    _random_model(capsys, tmp_path / "b.npz", seed=2)
    (tmp_path / "rtl").mkdir()
    manifest = {"top": "nomul_top", "model_sha256": "0" * 64}
    (tmp_path / "rtl" / "manifest.json").write_text(json.dumps(manifest))
    status, _, err = _run(capsys, "sim", tmp_path / "b.npz", "--dataset", "digits", "--build",
                          tmp_path / "rtl")
    assert status == 2 and "built from another model" in err


def test_a_model_without_dataset_needs_one(capsys, tmp_path):
    _random_model(capsys, tmp_path / "m.npz")
    status, _, err = _run(capsys, "sim", tmp_path / "m.npz")
    assert status == 2 and "pass --dataset" in err


@pytest.mark.parametrize("simulator, missing, install", [
    ("fast", {"c++", "g++"}, "apt-get install g++"),
    ("verilator", {"make"}, "apt-get install make"),
    ("icarus", {"iverilog"}, "apt-get install iverilog"),
])
def test_missing_tools_are_one_line_saying_what_to_install(capsys, tmp_path, monkeypatch,
                                                           simulator, missing, install):
    _random_model(capsys, tmp_path / "m.npz")
    real = runner.shutil.which
    monkeypatch.setattr(runner.shutil, "which", lambda name: None if name in missing
                        else real(name))
    status, _, err = _run(capsys, "sim", tmp_path / "m.npz", "--dataset", "digits",
                          "--samples", 2, "--simulator", simulator)
    assert status == 2
    assert install in err and len(err.strip().splitlines()) == 1


def test_amaranth_sim_of_a_build_directory_rebuilds_its_options(capsys, tmp_path):
    """The manifest's options come back as the same design (folded, PE 2 x SIMD 2)."""
    model = _random_model(capsys, tmp_path / "m.npz")
    assert _run(capsys, "build", tmp_path / "m.npz", "-o", tmp_path / "rtl", "--arch", "folded",
                "--pe", 2, "--simd", 2)[0] == 0
    status, out, err = _run(capsys, "sim", tmp_path / "m.npz", "--dataset", "digits",
                            "--samples", 5, "--build", tmp_path / "rtl", "--simulator",
                            "amaranth", "--json")
    assert status == 0, err
    report = json.loads(out)
    manifest = json.loads((tmp_path / "rtl" / "manifest.json").read_text())
    assert report["agreement"] == 1.0
    assert (report["manifest_latency"], report["manifest_ii"]) == (manifest["latency"],
                                                                   manifest["ii"])
    assert report["ii"] == manifest["ii"] == (64 // 2) * (6 // 2)
    digits = load_dataset("digits")
    assert report["accuracy"] == float(np.mean(reference.run(model, digits.x_test[:5])
                                               == digits.y_test[:5]))


def test_a_slow_design_gets_cycles_enough_in_the_harness():
    """A folded design whose II is past the harness's 1000 cycles a transfer (a conv at PE 1 x
    SIMD 1) is not called stalled: the budget follows its II, latency and the stall draws."""
    from nomul.sim.hardware import cycle_budget

    fast = {"latency": 5, "ii": 1}
    assert cycle_budget(fast, 10, 10, 0.0, 0.0) == 1000 + 1000 * 20
    slow = {"latency": 9000, "ii": 30000}
    assert cycle_budget(slow, 450, 450, 0.0, 0.0) >= 9000 + 450 * 30000
    assert cycle_budget(slow, 450, 450, 0.5, 0.5) >= 4 * (9000 + 450 * 30000)
