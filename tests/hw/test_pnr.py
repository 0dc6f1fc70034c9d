# SPDX-License-Identifier: MIT
"""nextpnr on iCE40 UP5K and ECP5-25k through the pin shell; a design too big is reported."""

import dataclasses

import pytest
from amaranth.hdl import Value

from hw.test_synth import _folded_layer
from nomul.gateware.emit import emit_verilog
from nomul.hw import pnr


def _layer(tmp_path):
    dut = _folded_layer()
    path = tmp_path / "layer.v"
    path.write_text(emit_verilog(dut, "layer"))
    return path, Value.cast(dut.i.payload).shape().width, Value.cast(dut.o.payload).shape().width


@pytest.mark.slow
@pytest.mark.parametrize("device, logic_cell", [("up5k", "ICESTORM_LC"),
                                                ("ecp5-25k", "TRELLIS_COMB")])
def test_a_layer_places_and_routes_with_an_fmax(tmp_path, device, logic_cell):
    path, in_width, out_width = _layer(tmp_path)
    report = pnr.place_and_route(path, "layer", in_width, out_width, device, tmp_path / "pnr")
    assert report["fits"] and report["short"] == []
    assert report["fmax_mhz"] > 10
    used, available = report["utilization"][logic_cell]
    assert 0 < used < available
    assert report["cells"]["multipliers"] == 0
    assert report["cells"]["ffs"] >= report["shell_ffs"]       # the shell's shift register
    assert report["shell_ffs"] == in_width + 4
    # the family's netlist passes ran before nextpnr (ECP5: block-RAM output registers)
    passes = {"up5k": set(), "ecp5-25k": {"absorb_bram_output_registers"}}[device]
    assert set(report["netlist_passes"]) == passes


@pytest.mark.slow
def test_several_placer_seeds_report_each_and_keep_the_best(tmp_path):
    path, in_width, out_width = _layer(tmp_path)
    report = pnr.place_and_route(path, "layer", in_width, out_width, "up5k", tmp_path / "pnr",
                                 seeds=(1, 2, 3))
    by_seed = report["fmax_by_seed"]
    assert sorted(by_seed) == [1, 2, 3] and all(f > 10 for f in by_seed.values())
    assert report["fmax_mhz"] == max(by_seed.values()) == by_seed[report["seed"]]
    for seed in (1, 2, 3):                     # each run's own report and log
        assert (tmp_path / "pnr" / f"report_{seed}.json").exists()
        assert (tmp_path / "pnr" / f"nextpnr_{seed}.log").exists()


@pytest.mark.slow
def test_a_design_larger_than_the_device_is_reported_not_placed(tmp_path, monkeypatch):
    path, in_width, out_width = _layer(tmp_path)
    tiny = dataclasses.replace(pnr.DEVICES["up5k"], capacity={"luts": 20, "ffs": 5280,
                                                             "brams": 30, "dsps": 8})
    monkeypatch.setitem(pnr.DEVICES, "up5k", tiny)
    report = pnr.place_and_route(path, "layer", in_width, out_width, "up5k", tmp_path / "pnr")
    assert not report["fits"] and report["fmax_mhz"] is None
    assert len(report["short"]) == 1 and report["short"][0].endswith("luts of 20")
    assert not (tmp_path / "pnr" / "report.json").exists()


def test_pin_shell_wraps_every_port():
    text = pnr.pin_shell("core_top", 5, 3)
    assert "reg [4:0] shift;" in text and "wire [2:0] payload;" in text
    assert "core_top core(" in text
    for port in ("i__payload", "i__valid", "i__ready", "o__payload", "o__valid", "o__ready"):
        assert f".{port}(" in text
    assert "shift <= din;" in pnr.pin_shell("core_top", 1, 1)
    # every input pin reaches the component through a register, the reset too
    assert ".rst(rst_q)" in text and "rst_q <= rst;" in text


def test_unknown_device_is_refused(tmp_path):
    from nomul.errors import ToolError

    with pytest.raises(ToolError, match="unknown device"):
        pnr.place_and_route(tmp_path / "x.v", "x", 1, 1, "gw1n", tmp_path)
