# SPDX-License-Identifier: MIT
"""Import -> build -> ``nomul sim --simulator fast``: the hardware agrees with the reference
on every test sample, for each front end (QONNX exact, float post-training), and the
README's "Import a trained model" commands run as written."""

import json
import shlex
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("qonnx")
pytest.importorskip("onnxruntime")

from helpers import readme_commands, run_cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "onnx"


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("NOMUL_DEBUG", raising=False)




@pytest.mark.slow
@pytest.mark.parametrize("name, data, build", [
    ("qonnx_mlp", "digits", ()),
    ("finn_cnn", "digits_1x8x8", ("--arch", "folded", "--pe", "2")),
    ("sk_binary", "binary", ()),
    ("torch_like_cnn", "digits_1x8x8", ()),
])
def test_import_build_sim_agrees(capsys, tmp_path, name, data, build):
    model, data = tmp_path / f"{name}.npz", FIXTURES / f"{data}.npz"
    status, out, err = run_cli(capsys, "import", FIXTURES / f"{name}.onnx", "--data", data,
                            "-o", model, "--json")
    assert status == 0, err
    report = json.loads(out)
    if report["source"] == "qonnx":
        assert report["exact"] and report["agreement_all"] == 1.0
    status, _, err = run_cli(capsys, "build", model, "-o", tmp_path / "build", *build)
    assert status == 0, err
    status, out, err = run_cli(capsys, "sim", model, "--data", data, "--build", tmp_path / "build",
                            "--simulator", "fast", "--json")
    assert status == 0, err
    sim = json.loads(out)
    assert sim["agreement"] == 1.0
    assert sim["samples"] == report["samples"]
    assert sim["accuracy"] == pytest.approx(report["int_accuracy"])


def test_readme_section_has_commands():
    commands = readme_commands("Import a trained model")
    assert any(c.startswith("nomul import") for c in commands)
    assert any(c.startswith("nomul sim") for c in commands)


@pytest.mark.slow
def test_readme_import_commands_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for command in readme_commands("Import a trained model"):
        argv = shlex.split(command.replace("build/import", str(tmp_path)))
        if argv[0] != "nomul":
            assert argv[:2] == ["mkdir", "-p"], command
            continue
        status, out, err = run_cli(capsys, *argv[1:])
        assert status == 0, f"{command}: {err}"
        if argv[1] == "sim":
            assert "agreement with the reference: 100.00 %" in out
