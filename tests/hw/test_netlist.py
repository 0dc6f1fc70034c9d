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


def _pseudo_dual_port_netlist():
    """A 36-bit DP16KD (pseudo-dual-port: port A writes on a constant clock, the read port
    clocked by CLKB drives DOA and DOB): data bits DOA0, DOA1 and DOB0 registered by fabric
    flip-flops on CLKB, as Yosys maps a 36-bit ROM."""
    netlist = _netlist(data_bits=0)
    bram = netlist["modules"]["top"]["cells"]["bram"]
    bram["parameters"] |= {"DATA_WIDTH_A": format(36, "032b"), "DATA_WIDTH_B": format(36, "032b"),
                           "CLKBMUX": "CLKB"}
    bram["port_directions"] |= {f"DOB{i}": "output" for i in range(18)} | {
        "CEB": "input", "CLKB": "input", "OCEB": "input", "RSTB": "input"}
    bram["connections"] |= {"CLKA": ["0"], "CEA": ["0"], "OCEA": ["0"], "CEB": [CE],
                            "CLKB": [CLK], "OCEB": ["1"], "RSTB": ["0"],
                            "DOA0": [100], "DOA1": [101], "DOB0": [102]}
    cells = netlist["modules"]["top"]["cells"]
    for i in range(3):
        cells[f"ff{i}"] = _ff(100 + i, 200 + i)
    return netlist


def test_a_36_bit_read_port_moves_its_registers_whole():
    """Pseudo-dual-port mode: the read port is CLKB's, its data both DOA and DOB; both
    REGMODEs and both output enables are set (the read registers of one port)."""
    netlist = _pseudo_dual_port_netlist()
    assert absorb_bram_output_registers(netlist) == 3
    cells = netlist["modules"]["top"]["cells"]
    bram = cells["bram"]
    assert (bram["parameters"]["REGMODE_A"], bram["parameters"]["REGMODE_B"]) == \
        ("OUTREG", "OUTREG")
    assert bram["connections"]["OCEA"] == bram["connections"]["OCEB"] == [CE]
    assert [bram["connections"][p] for p in ("DOA0", "DOA1", "DOB0")] == [[200], [201], [202]]
    assert sorted(cells) == ["bram", "lut"]


@pytest.mark.parametrize("spoil", ["one half read by logic", "write port reset"])
def test_a_36_bit_read_port_is_not_split(spoil):
    """One register of the 36 bits that cannot move keeps all of them in the fabric (a
    REGMODE on one half only would delay the other half's data)."""
    netlist = _pseudo_dual_port_netlist()
    cells = netlist["modules"]["top"]["cells"]
    if spoil == "one half read by logic":
        cells["lut"]["connections"]["C"] = [102]              # DOB0 also read raw
    else:
        cells["bram"]["connections"]["RSTA"] = [79]
    before = copy.deepcopy(netlist)
    assert absorb_bram_output_registers(netlist) == 0
    assert netlist == before
