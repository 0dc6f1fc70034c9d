# SPDX-License-Identifier: MIT
"""``nomul board``: iCEBreaker and ULX3S bitstreams for a small model, and the refusals."""

import json
import re

import pytest

from helpers import random_model_file
from nomul.cli import main
from nomul.design import BuildOptions
from nomul.hw.board import build_board
from nomul.models.spec import InputSpec
from nomul.models.synthetic import random_model


@pytest.mark.slow
def test_icebreaker_bitstream_for_a_small_model(tmp_path, capsys):
    model = tmp_path / "m.npz"
    random_model_file(model, "8-4-3", 8)
    status = main(["board", str(model), "--board", "icebreaker", "--arch", "folded",
                   "-o", str(tmp_path / "ice")])
    out = capsys.readouterr().out
    assert status == 0, out
    bitstream = tmp_path / "ice" / "top.bin"
    assert bitstream.stat().st_size == 104090           # an iCE40 UP5K image
    assert "115200 baud" in out and "send 8 bytes per sample" in out
    placed = re.search(r"placed: ICESTORM_LC (\d+)/5280 .*; Fmax ([\d.]+) MHz, (meets|MISSES) "
                       r"the board's 12 MHz clock", out)
    assert placed, out
    assert 0 < int(placed[1]) <= 5280
    assert (float(placed[2]) >= 12) == (placed[3] == "meets")


@pytest.mark.slow
def test_ulx3s_bitstream_for_a_small_model(tmp_path, capsys):
    from amaranth_boards.ulx3s import ULX3S_25F_Platform

    model = tmp_path / "m.npz"
    random_model_file(model, "8-4-3", 8)
    capsys.readouterr()
    status = main(["board", str(model), "--board", "ulx3s", "--arch", "folded",
                   "-o", str(tmp_path / "ulx"), "--json"])
    out = capsys.readouterr().out
    assert status == 0, out
    report = json.loads(out)
    build = tmp_path / "ulx"
    bitstream = build / "top.bit"
    assert report["board"] == "ulx3s"
    assert report["bitstream"] == str(bitstream.resolve())
    image = bitstream.read_bytes()
    assert len(image) > 0
    assert b"Part: LFE5U-25F-" in image[:64]               # ecppack's header: an ECP5 25F...
    assert bytes.fromhex("e200000041111043") in image[:256]  # ...and its VERIFY_ID IDCODE
    clock = ULX3S_25F_Platform().default_clk_frequency
    assert report["clock_hz"] == clock == 25e6
    constraint = re.search(r'FREQUENCY PORT "clk25\w*" ([\d.]+) HZ',
                           (build / "top.lpf").read_text())
    assert float(constraint.group(1)) == report["clock_hz"]    # the build's clock constraint
    assert report["baud"] == 115200
    assert report["divisor"] == round(clock / 115200) == 217
    assert report["fmax_mhz"] > 0
    used, available = report["utilization"]["TRELLIS_COMB"]
    assert 0 < used <= available


def test_raw_output_and_wide_inputs_are_refused(tmp_path):
    from nomul.errors import OptionsError

    spec = InputSpec(shape=(4,), raw_min=0, raw_max=7)
    raw = random_model("4-3", spec, act_levels=3, weight_levels=4, output="raw", seed=0)
    with pytest.raises(OptionsError, match="output is raw"):
        build_board(raw, BuildOptions(), "icebreaker", tmp_path)
    wide = random_model("4-3", InputSpec(shape=(4,), raw_min=-300, raw_max=300), act_levels=3,
                        weight_levels=4, seed=0)
    with pytest.raises(OptionsError, match="do not fit one byte"):
        build_board(wide, BuildOptions(), "icebreaker", tmp_path)
    with pytest.raises(OptionsError, match="unknown board"):
        build_board(wide, BuildOptions(), "de10", tmp_path)


def test_a_design_the_board_cannot_hold_is_refused_before_synthesis(tmp_path, capsys):
    """An unrolled 64-64-32-10 needs tens of thousands of LUTs; the UP5K has 5280."""
    from nomul.cli import main

    model = tmp_path / "big.npz"
    assert main(["random", "--arch", "64-64-32-10", "-o", str(model)]) == 0
    capsys.readouterr()
    assert main(["board", str(model), "--board", "icebreaker", "-o", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not fit the icebreaker's iCE40 UP5K" in err and "luts of 5280" in err
    assert "\n" not in err and not (tmp_path / "b").exists()
