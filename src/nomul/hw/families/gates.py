# SPDX-License-Identifier: MIT
"""The gate-level target: Yosys's generic ``synth`` mapped by ABC to 2-input gates (and
multiplexers); logic is counted in ``gates``. No block RAM (every memory is logic, as the
generic flow leaves it), no DSP, no device.
"""

from . import Family

__all__ = ["FAMILY"]

FAMILY = Family(
    name="gates",
    logic="gates",
    lut_inputs=2,                       # 2-input gates
    yosys_script="hierarchy -top {top}; synth -flatten -top {top}; abc -g AND,NAND,OR,NOR,XOR,"
                 "XNOR,MUX; opt_clean",
    cell_classes=(("gates", r"\$_(AND|NAND|OR|NOR|XOR|XNOR|ANDNOT|ORNOT|MUX|NOT|NMUX)_"),
                  ("ffs", r"\$_(S?DFFE?|DFFSRE?|ALDFFE?|SDFFCE|DLATCH)\w*_")),
    multiplier_cells=None,
    block_rams=(),
    logic_cost_per_rom_bit=1 / 16,      # unused: no block RAM to weigh it against
    dsp_min_product_bits=None,
)
