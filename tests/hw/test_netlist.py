# SPDX-License-Identifier: MIT
"""The ECP5 netlist pass that moves a block RAM's read-data flip-flops into its output register."""

import copy

import pytest

from nomul.hw.netlist import absorb_bram_output_registers

CLK, CE, OTHER_CE = 2, 9, 10


def _ff(di, q, *, ce=CE, lsr="0", clk=CLK):
    return {"type": "TRELLIS_FF",
            "parameters": {"CEMUX": "CE", "CLKMUX": "CLK", "GSR": "DISABLED",
                           "LSRMUX": "LSR", "REGSET": "RESET", "SRMODE": "LSR_OVER_CE"},
            "port_directions": {"CE": "input", "CLK": "input", "DI": "input", "LSR": "input",
                                "Q": "output"},
            "connections": {"CE": [ce], "CLK": [clk], "DI": [di], "LSR": [lsr], "Q": [q]}}


def _netlist(data_bits=3):
    """A DP16KD read on port A, data bits 100.. each registered by a fabric flip-flop
    (outputs 200..) that a LUT reads."""
    bram = {"type": "DP16KD", "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG",
                                             "CLKAMUX": "CLKA"},
            "port_directions": {f"DOA{i}": "output" for i in range(18)} |
            {"CEA": "input", "CLKA": "input", "OCEA": "input", "RSTA": "input"},
            "connections": {"CEA": [CE], "CLKA": [CLK], "OCEA": ["1"], "RSTA": ["0"]} |
            {f"DOA{i}": [100 + i] for i in range(data_bits)}}
    cells = {"bram": bram}
    for i in range(data_bits):
        cells[f"ff{i}"] = _ff(100 + i, 200 + i)
    cells["lut"] = {"type": "LUT4", "parameters": {},
                    "port_directions": {"A": "input", "B": "input", "C": "input", "Z": "output"},
                    "connections": {"A": [200], "B": [201], "C": [202], "Z": [300]}}
    return {"modules": {"top": {"ports": {"out": {"direction": "output", "bits": [300]}},
                                "cells": cells}}}


def test_read_data_registers_move_into_the_block_ram():
    netlist = _netlist()
    assert absorb_bram_output_registers(netlist) == 3
    cells = netlist["modules"]["top"]["cells"]
    bram = cells["bram"]
    assert bram["parameters"]["REGMODE_A"] == "OUTREG"
    assert bram["connections"]["OCEA"] == [CE]
    assert [bram["connections"][f"DOA{i}"] for i in range(3)] == [[200], [201], [202]]
    assert sorted(cells) == ["bram", "lut"]                   # the flip-flops are gone
    assert cells["lut"]["connections"]["A"] == [200]           # their readers untouched


@pytest.mark.parametrize("spoil", ["two readers", "reset", "other enable", "other clock",
                                   "output port", "read reset"])
def test_a_register_that_is_not_exactly_the_output_register_stays(spoil):
    netlist = _netlist()
    module = netlist["modules"]["top"]
    cells = module["cells"]
    if spoil == "two readers":                  # the raw data also read by logic
        cells["lut"]["connections"]["C"] = [101]
    elif spoil == "reset":
        cells["ff1"]["connections"]["LSR"] = [77]
    elif spoil == "other enable":
        cells["ff2"]["connections"]["CE"] = [OTHER_CE]
    elif spoil == "other clock":
        cells["ff0"]["connections"]["CLK"] = [78]
    elif spoil == "output port":
        module["ports"]["raw"] = {"direction": "output", "bits": [100]}
    else:
        cells["bram"]["connections"]["RSTA"] = [79]
    before = copy.deepcopy(netlist)
    assert absorb_bram_output_registers(netlist) == 0
    assert netlist == before
