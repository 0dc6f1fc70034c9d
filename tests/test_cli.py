# SPDX-License-Identifier: MIT
"""``nomul`` command line: ``random`` + ``info`` in-process, one-line errors, ``--help``.

Expected figures are worked out by hand from the architecture (and, for table entries, from the
file's arrays read with plain numpy), never copied from the program's output.
"""

import io
import json
import math
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nomul.cli import main
from nomul.models.modelfile import load_model

NOMUL = Path(sys.executable).with_name("nomul")


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("NOMUL_DEBUG", raising=False)


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# Hand-computed figures per architecture, for raw 0..16 inputs (17 levels), 4 activation levels
# (3 thresholds) and 8 weight codewords (3-bit indices).
#   dense fan-in N -> M: lookups = M * N / d, float32 = 32 * (M * N + M)
#   conv: lookups = M * (taps * C / d) * positions; comparisons = thresholds * M * positions
CASES = {
    "mlp": dict(
        argv=["--arch", "64-16-10"],
        layers=["dense", "dense"],
        table_entries=17 * 8 + 4 * 8,
        lookups=16 * 64 + 10 * 16,
        float32_bits=32 * ((64 * 16 + 16) + (16 * 10 + 10)),
        comparisons=3 * 16 + (10 - 1),
    ),
    "mlp-group2": dict(
        argv=["--arch", "64-16-10", "--group", "2"],
        layers=["dense", "dense"],
        table_entries=17 ** 2 * 8 + 4 ** 2 * 8,
        lookups=16 * 32 + 10 * 8,
        float32_bits=32 * ((64 * 16 + 16) + (16 * 10 + 10)),
        comparisons=3 * 16 + (10 - 1),
    ),
    "conv": dict(
        argv=["--arch", "1x8x8-c4k3p1-m2-c4k3-8-10", "--input-shape", "1x8x8"],
        layers=["conv2d", "maxpool", "conv2d", "flatten", "dense", "dense"],
        # conv 1x8x8 -> 4x8x8 (9 taps), pool -> 4x4x4, conv -> 4x2x2 (36 inputs), 16 -> 8 -> 10
        table_entries=17 * 8 + 4 * 8 + 4 * 8 + 4 * 8,
        lookups=4 * 9 * 64 + 4 * 36 * 4 + 8 * 16 + 10 * 8,
        float32_bits=32 * ((4 * 9 + 4) + (4 * 36 + 4) + (8 * 16 + 8) + (10 * 8 + 10)),
        comparisons=3 * 4 * 64 + 3 * 4 * 4 * 4 + 3 * 4 * 4 + 3 * 8 + (10 - 1),
    ),
}


def _width(values):
    """Smallest two's-complement (or unsigned, when nothing is negative) width, by search."""
    lo, hi = int(np.min(values)), int(np.max(values))
    if lo >= 0:
        bits = 1
        while hi >= 1 << bits:
            bits += 1
        return bits
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi < 1 << (bits - 1)):
        bits += 1
    return bits


def _npz_layers(path):
    """Per weighted layer ``{name: array}`` read with plain numpy (no nomul code)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    layers = {}
    for name, array in arrays.items():
        match = re.fullmatch(r"layers\.(\d+)\.(\w+)", name)
        if match:
            layers.setdefault(int(match[1]), {})[match[2]] = array
    return layers


@pytest.mark.parametrize("case", list(CASES))
def test_random_then_info_json(case, capsys, tmp_path):
    expected = CASES[case]
    path = tmp_path / "model.npz"
    status, out, err = _run(capsys, "random", *expected["argv"], "--seed", "3", "-o", path)
    assert status == 0 and err == ""
    assert str(path) in out and path.is_file()

    status, out, err = _run(capsys, "info", path, "--json")
    assert status == 0 and err == ""
    info = json.loads(out)
    for key in ("layers", "table_entries", "memory_bits", "float32_bits", "multiplies"):
        assert key in info
    assert info["multiplies"] == 0
    assert [layer["kind"] for layer in info["layers"]] == expected["layers"]

    # totals are the sums over the layers
    for key in ("table_entries", "memory_bits", "float32_bits", "lookups", "additions",
                "comparisons"):
        assert info[key] == sum(layer[key] for layer in info["layers"]), key

    # ... and match the hand-computed figures
    for key in ("table_entries", "lookups", "float32_bits", "comparisons"):
        assert info[key] == expected[key], key
    assert info["additions"] == expected["lookups"]

    # table entries from the arrays: plain numpy, and the loaded model
    arrays = _npz_layers(path)
    weighted = sorted(i for i, layer in arrays.items() if "table" in layer)
    assert weighted == [i for i, kind in enumerate(expected["layers"])
                        if kind in ("dense", "conv2d")]
    assert info["table_entries"] == sum(math.prod(arrays[i]["table"].shape) for i in weighted)
    model = load_model(path)
    assert info["table_entries"] == sum(layer.table.shape[0] * layer.table.shape[1]
                                        for layer in model.layers if hasattr(layer, "table"))

    # memory per weighted layer, from the arrays: tables + indices + biases + thresholds
    memory = 0
    for i in weighted:
        layer = arrays[i]
        codewords = layer["table"].shape[1]
        assert codewords == 8
        bits = (layer["table"].size * _width(layer["table"])
                + layer["weight_index"].size * math.ceil(math.log2(codewords))
                + layer["bias"].size * _width(layer["bias"]))
        if "thresholds" in layer:
            bits += layer["thresholds"].size * _width(layer["thresholds"])
        assert info["layers"][i]["memory_bits"] == bits, i
        memory += bits
    assert info["memory_bits"] == memory
    assert 0 < info["memory_bits"] < info["float32_bits"]


def test_random_then_info_text(capsys, tmp_path):
    expected = CASES["mlp"]
    path = tmp_path / "digits.npz"
    status, _, _ = _run(capsys, "random", *expected["argv"], "--seed", "11", "-o", path)
    assert status == 0
    status, out, err = _run(capsys, "info", path)
    assert status == 0 and err == ""
    assert "multiplies" in out
    assert re.search(r"\b0 multiplies\b", out)
    match = re.search(r"table entries: (\d+)", out)
    assert match and int(match[1]) == expected["table_entries"]
    match = re.search(r"(\d+) lookups", out)
    assert match and int(match[1]) == expected["lookups"]
    # per-layer table entries appear in the table rows (17*8 and 4*8)
    rows = [line for line in out.splitlines() if re.search(r"\bdense\b", line)]
    assert len(rows) == 2
    assert re.search(r"\b136\b", rows[0]) and re.search(r"\b32\b", rows[1])
    assert "argmax" in rows[1]


def test_random_is_reproducible(capsys, tmp_path):
    for name in ("a.npz", "b.npz"):
        assert _run(capsys, "random", "--arch", "64-8-10", "--seed", "5",
                    "-o", tmp_path / name)[0] == 0
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert _run(capsys, "random", "--arch", "64-8-10", "--seed", "6",
                "-o", tmp_path / "c.npz")[0] == 0
    assert (tmp_path / "a.npz").read_bytes() != (tmp_path / "c.npz").read_bytes()


def _float_table(good):
    """A good file whose first table is stored as float64."""
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        items = {info.filename: archive.read(info) for info in archive.infolist()}
    table = np.load(io.BytesIO(items["layers.0.table.npy"]), allow_pickle=False)
    buffer = io.BytesIO()
    np.save(buffer, table.astype(np.float64))
    items["layers.0.table.npy"] = buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, blob in items.items():
            archive.writestr(name, blob)
    return out.getvalue()


BAD_FILES = {
    "garbage": lambda good: np.random.default_rng(3).bytes(2000),
    "empty": lambda good: b"",
    "truncated": lambda good: good[:len(good) // 2],
    "float-table": _float_table,
}


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.npz"
    assert main(["random", "--arch", "64-8-10", "--seed", "2", "-o", str(path)]) == 0
    return path.read_bytes()


def _assert_one_error_line(err):
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nomul: error:")
    return lines[0]


@pytest.mark.parametrize("kind", list(BAD_FILES))
@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_info_on_corrupt_file(kind, json_flag, good_bytes, capsys, tmp_path):
    path = tmp_path / f"{kind}.npz"
    path.write_bytes(BAD_FILES[kind](good_bytes))
    status, out, err = _run(capsys, "info", path, *json_flag)
    assert status != 0
    assert out == ""
    line = _assert_one_error_line(err)
    assert str(path) in line
    if kind == "float-table":
        assert "layers.0.table" in line


def test_info_on_missing_path_and_directory(capsys, tmp_path):
    for path in (tmp_path / "missing.npz", tmp_path):
        status, out, err = _run(capsys, "info", path)
        assert status != 0 and out == ""
        assert str(path) in _assert_one_error_line(err)


def test_bad_options_are_one_line(capsys, tmp_path):
    path = tmp_path / "m.npz"
    status, out, err = _run(capsys, "random", "--arch", "64-x-10", "-o", path)
    assert status != 0
    assert "arch" in _assert_one_error_line(err)
    assert not path.exists()
    status, out, err = _run(capsys, "random", "--arch", "64-8-10", "--input-shape", "8x",
                            "-o", path)
    assert status != 0
    _assert_one_error_line(err)


def test_random_into_missing_directory_is_one_line(capsys, tmp_path):
    status, out, err = _run(capsys, "random", "-o", tmp_path / "no" / "such" / "m.npz")
    assert status != 0
    _assert_one_error_line(err)


def test_console_script_on_corrupt_file(good_bytes, tmp_path):
    assert NOMUL.is_file(), f"console script not installed at {NOMUL}"
    path = tmp_path / "bad.npz"
    path.write_bytes(good_bytes[: len(good_bytes) // 3])
    env = {key: value for key, value in os.environ.items() if key != "NOMUL_DEBUG"}
    result = subprocess.run([str(NOMUL), "info", str(path)], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode != 0
    assert result.stdout == ""
    assert str(path) in _assert_one_error_line(result.stderr)


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "info" in out and "random" in out
    with pytest.raises(SystemExit) as caught:
        main(["info", "--help"])
    assert caught.value.code == 0
    assert "--json" in capsys.readouterr().out


def test_help_is_light():
    """``nomul --help`` imports neither numpy nor rich nor the model code."""
    code = ("import json, sys\n"
            "from nomul.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    status = e.code\n"
            "heavy = [m for m in ('numpy', 'rich', 'nomul.models') if m in sys.modules]\n"
            "print(json.dumps([status, heavy]), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    status, heavy = json.loads(result.stderr.strip().splitlines()[-1])
    assert status == 0
    assert heavy == []


def test_missing_command_is_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_build_options_per_weighted_layer(capsys, tmp_path):
    model = tmp_path / "m.npz"
    assert _run(capsys, "random", "--arch", "64-6-10", "-o", model)[0] == 0
    status, out, err = _run(capsys, "build", model, "-o", tmp_path / "rtl", "--arch",
                            "unrolled,folded", "--simd", "1,3", "--json")
    assert status == 0, err
    layers = json.loads(out)["layers"]
    assert [(lay["arch"], lay.get("simd")) for lay in layers] == [("unrolled", None),
                                                                 ("folded", 3)]
    assert layers[1]["ii"] == (6 // 3) * 10                  # groups / SIMD x outputs / PE


def test_a_ternary_build_says_so_and_records_it(capsys, tmp_path):
    model = tmp_path / "m.npz"
    assert _run(capsys, "random", "--arch", "64-6-10", "-o", model)[0] == 0
    status, out, err = _run(capsys, "build", model, "-o", tmp_path / "rtl", "--adders",
                            "ternary")
    assert status == 0, err
    manifest = json.loads((tmp_path / "rtl" / "manifest.json").read_text())
    assert manifest["options"]["default"]["adders"] == "ternary"
    fused = manifest["layers"][0]["adders_ternary"]
    assert fused > 0
    assert f"layer 0 dense: unrolled, {fused} three-input adders (Xilinx), latency" in out
    verilog = (tmp_path / "rtl" / f"{manifest['top']}.v").read_text()
    assert "LUT6_2" in verilog and "module LUT6_2" not in verilog   # the primitive, no model


@pytest.mark.parametrize("argv, message", [
    (["--pe", "2,2,2"], "--pe has 3 values; give one, or one per weighted layer (2)"),
    (["--simd", "2,x"], "not an integer or a list like 2,1,1"),
])
def test_bad_per_layer_options_are_one_line(capsys, tmp_path, argv, message):
    model = tmp_path / "m.npz"
    assert _run(capsys, "random", "--arch", "64-6-10", "-o", model)[0] == 0
    try:
        status, _, err = _run(capsys, "build", model, "-o", tmp_path / "rtl", *argv)
    except SystemExit as exit_:
        status, err = exit_.code, capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
