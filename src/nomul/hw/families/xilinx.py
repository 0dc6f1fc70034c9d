# SPDX-License-Identifier: MIT
"""Xilinx 7-series (xc7): Yosys ``synth_xilinx -family xc7``; synthesis and estimates only (no
open place and route from PyPI).

``synth_xilinx`` asserts on Amaranth's Verilog unless ``hierarchy; proc; splitnets`` ran first
(docs/toolchain.md). Its flow loses logic on some registered comparisons (outputs left undriven);
:func:`nomul.hw.toolchain.run_yosys` refuses such a netlist.
"""

from . import Family

__all__ = ["FAMILY"]

FAMILY = Family(
    name="xilinx",
    logic="luts",
    lut_inputs=6,
    # wide functions through MUXF7 / MUXF8, fed by fixed LUT pairs: leaves not shared (counting
    # distinct leaves gives the same held-out figures: no reason to)
    shared_leaves=False,
    yosys_script="hierarchy -top {top}; proc; splitnets; synth_xilinx -family xc7 -noiopad "
                 "-top {top}",
    cell_classes=(("luts", r"LUT[1-6](_2)?|INV"), ("ffs", r"FD[CPRSE]E?"), ("carry", r"CARRY4"),
                  ("muxes", r"MUXF[78]"), ("lutram", r"RAM\d+[MX]\w*|SRL(16|C32)E"),
                  ("clock", r"BUFG\w*"),
                  ("brams", r"RAMB18E1|RAMB36E1"), ("dsps", r"DSP48E1?")),
    multiplier_cells=r"DSP48\w*",
    block_rams=(("RAMB18E1", 129, 2, ((16384, 1), (8192, 2), (4096, 4), (2048, 9),
                                      (1024, 18))),
                ("RAMB18E1", 129, 1, ((512, 36),)),
                ("RAMB36E1", 257, 2, ((32768, 1), (16384, 2), (8192, 4), (4096, 9),
                                      (2048, 18), (1024, 36))),
                ("RAMB36E1", 257, 1, ((512, 72),))),
    # one LUT6's worth (64 bits) per ROM bit left to logic: what our xc7 runs show
    logic_cost_per_rom_bit=1 / 64,
    dsp_min_product_bits=4,
)
