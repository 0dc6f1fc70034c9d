# SPDX-License-Identifier: MIT
"""Import -> build -> ``nomul sim --simulator fast``: the hardware agrees with the reference
on every test sample, for each front end (QONNX exact, float post-training), and the
README's "Import a trained model" commands run as written."""

import json
import re
import shlex
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("qonnx")
pytest.importorskip("onnxruntime")

from nomul.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "onnx"


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("NOMUL_DEBUG", raising=False)


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.slow
@pytest.mark.parametrize("name, data, build", [
    ("qonnx_mlp", "digits", ()),
    ("finn_cnn", "digits_1x8x8", ("--arch", "folded", "--pe", "2")),
    ("sk_binary", "binary", ()),
    ("torch_like_cnn", "digits_1x8x8", ()),
])
def test_import_build_sim_agrees(capsys, tmp_path, name, data, build):
    model, data = tmp_path / f"{name}.npz", FIXTURES / f"{data}.npz"
    status, out, err = _run(capsys, "import", FIXTURES / f"{name}.onnx", "--data", data,
                            "-o", model, "--json")
    assert status == 0, err
    report = json.loads(out)
    if report["source"] == "qonnx":
        assert report["exact"] and report["agreement_all"] == 1.0
    status, _, err = _run(capsys, "build", model, "-o", tmp_path / "build", *build)
    assert status == 0, err
    status, out, err = _run(capsys, "sim", model, "--data", data, "--build", tmp_path / "build",
                            "--simulator", "fast", "--json")
    assert status == 0, err
    sim = json.loads(out)
    assert sim["agreement"] == 1.0
    assert sim["samples"] == report["samples"]
    assert sim["accuracy"] == pytest.approx(report["int_accuracy"])


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Import a trained model", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def test_readme_section_has_commands():
    commands = _readme_commands()
    assert any(c.startswith("nomul import") for c in commands)
    assert any(c.startswith("nomul sim") for c in commands)


@pytest.mark.slow
def test_readme_import_commands_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for command in _readme_commands():
        argv = shlex.split(command.replace("build/import", str(tmp_path)))
        if argv[0] != "nomul":
            assert argv[:2] == ["mkdir", "-p"], command
            continue
        status, out, err = _run(capsys, *argv[1:])
        assert status == 0, f"{command}: {err}"
        if argv[1] == "sim":
            assert "agreement with the reference: 100.00 %" in out
