# SPDX-License-Identifier: MIT
"""`nomul build`: Verilog ports and names, manifest contents, byte-identical output."""

import dataclasses
import json
import re

import numpy as np
import pytest

from nomul.cli import main
from nomul.models.modelfile import save_model
from nomul.models.spec import Activation, InputSpec
from nomul.models.synthetic import random_model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    spec = InputSpec(shape=(12,), raw_min=-4, raw_max=11)
    model = random_model("12-6-4", spec, act_levels=3, weight_levels=4, seed=3)
    return save_model(model, tmp_path_factory.mktemp("m") / "model.npz"), model


def _build(path, out, *extra):
    return main(["build", str(path), "-o", str(out), "--json", *extra])


def test_build_writes_verilog_with_the_documented_ports(model_path, tmp_path, capsys):
    path, model = model_path
    assert _build(path, tmp_path / "b", "--name", "digits_top", "--input-lanes", "5") == 0
    manifest = json.loads(capsys.readouterr().out)
    text = (tmp_path / "b" / "digits_top.v").read_text()
    assert re.search(r"^module digits_top\(", text, re.M)
    for port, width in (("clk", 1), ("rst", 1), ("i__valid", 1), ("i__ready", 1),
                        ("o__valid", 1), ("o__ready", 1), ("i__payload", 5 * 5),
                        ("o__payload", 2)):
        declared = re.search(rf"^\s*(input|output)\s+(\[(\d+):0\]\s+)?{port};", text, re.M)
        assert declared, port
        assert int(declared.group(3) or 0) + 1 == width, port
    on_disk = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert on_disk["top"] == manifest["top"] == "digits_top"
    assert on_disk["input"] == {"elements": 12, "bits": 5, "signed": True, "lanes": 5,
                                "shape": [12], "transfers_per_sample": 3}
    assert on_disk["output"]["kind"] == "argmax" and on_disk["output"]["elements"] == 1
    assert on_disk["ii"] == 3                    # three input transfers per sample
    assert on_disk["latency"] > 0
    assert [layer["arch"] for layer in on_disk["layers"]] == ["unrolled", "unrolled"]


def test_same_model_and_options_give_byte_identical_files(model_path, tmp_path, capsys):
    path, _ = model_path
    assert _build(path, tmp_path / "one", "--register-every", "2") == 0
    assert _build(path, tmp_path / "two", "--register-every", "2") == 0
    assert _build(path, tmp_path / "three", "--register-every", "0") == 0
    capsys.readouterr()
    one = (tmp_path / "one" / "nomul_top.v").read_bytes()
    assert one == (tmp_path / "two" / "nomul_top.v").read_bytes()
    assert (tmp_path / "one" / "manifest.json").read_bytes() == \
        (tmp_path / "two" / "manifest.json").read_bytes()
    assert one != (tmp_path / "three" / "nomul_top.v").read_bytes()
    assert b"/work/" not in one and b"src =" not in one       # no source paths


def test_raw_output_manifest(tmp_path, capsys):
    spec = InputSpec(shape=(1, 6), raw_min=0, raw_max=3)
    from nomul.models.export import export
    from nomul.models.synthetic import random_float_network

    net = random_float_network("1x6-c2k3p1-m2-f-3", spec, output="raw", seed=2)
    model = export(net, frac_bits=6)
    path = save_model(model, tmp_path / "raw.npz")
    assert _build(path, tmp_path / "b") == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["output"]["kind"] == "raw" and manifest["output"]["elements"] == 3
    bounds = [int(np.abs(layer.bias).max()) for layer in model.layers if hasattr(layer, "bias")]
    assert manifest["output"]["bits"] >= max(bounds).bit_length() + 1


def test_clamp_on_unevenly_spaced_thresholds_is_a_one_line_error(tmp_path, capsys):
    model = random_model("12-6-4", InputSpec(shape=(12,), raw_min=0, raw_max=7), act_levels=5,
                         weight_levels=4, seed=3)
    uneven = Activation("thresholds", np.array([-40, -8, 0, 24]))       # steps 32, 8, 24
    layers = (dataclasses.replace(model.layers[0], activation=uneven), *model.layers[1:])
    path = save_model(dataclasses.replace(model, layers=layers), tmp_path / "m.npz")
    assert main(["build", str(path), "-o", str(tmp_path / "b"), "--threshold-method",
                 "clamp"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["nomul: error: layer 0 (dense): threshold_method clamp needs every output's "
                   "thresholds evenly spaced by a power of two"]
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("extra, message", [
    (["--arch", "magic"], "arch: unknown value 'magic'"),
    (["--input-lanes", "99"], "input_lanes 99 exceeds the 12 input elements"),
    (["--input-lanes", "0"], "--input-lanes"),
    (["--name", "9top"], "name must be a Verilog identifier"),
    (["--pe", "0"], "--pe"),
    (["--arch", "folded", "--table-style", "rom"], "table_style: unknown value 'rom'"),
    (["--table-style", "block"], "table_style does not apply"),
    (["--arch", "folded", "--weight-style", "rom"], "weight_style: unknown value 'rom'"),
    (["--arch", "folded", "--pe", "5"], "layer 0 (dense): pe 5 does not divide the 6 outputs"),
    (["--arch", "folded", "--simd", "5"], "simd 5 does not divide the 12 input groups"),
    (["--group-inputs", "5"], "group_inputs 5 makes tables of 1048576 codes (limit 4096)"),
    (["--group-inputs", "0"], "--group-inputs"),
    (["--group-inputs", "two"], "--group-inputs"),
])
def test_bad_build_options_are_one_line_errors(model_path, tmp_path, capsys, extra, message):
    path, _ = model_path
    try:
        status = main(["build", str(path), "-o", str(tmp_path / "b"), *extra])
    except SystemExit as exit_:                      # argparse: a value of the wrong kind
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert err[0].startswith(("nomul: error:", "nomul build: error:"))
    assert not (tmp_path / "b" / "nomul_top.v").exists()
