# SPDX-License-Identifier: MIT
"""Synthesis reports: Yosys ``stat -json`` turned into LUTs, FFs, carries, block RAMs, DSPs.

:func:`synthesize` runs Yosys (:mod:`nomul.hw.toolchain`) on one module; cells are classified
per family by :data:`CELL_CLASSES`. Every report counts
multiplier cells (``$mul``/``$macc`` left unmapped, iCE40 ``SB_MAC16``, ECP5 ``MULT18X18D``,
Xilinx ``DSP48*``): a nomul design must have none.
"""

import re

from .toolchain import run_yosys

__all__ = ["CELL_CLASSES", "MULTIPLIER_CELLS", "classify", "count_multipliers", "synthesize",
           "synthesize_design"]

# cell type -> class, per family; a pattern is matched against the whole type name
CELL_CLASSES = {
    "ice40": [("luts", r"SB_LUT4"), ("ffs", r"SB_DFF\w*"), ("carry", r"SB_CARRY"),
              ("brams", r"SB_RAM40_4K\w*|SB_SPRAM256KA"), ("dsps", r"SB_MAC16")],
    "ecp5": [("luts", r"LUT4"), ("ffs", r"TRELLIS_FF"), ("carry", r"CCU2C"),
             ("muxes", r"PFUMX|L6MUX21"), ("lutram", r"TRELLIS_DPR16X4"),
             ("brams", r"DP16KD|PDPW16KD"),
             ("dsps", r"MULT18X18D|ALU54B")],
    "xilinx": [("luts", r"LUT[1-6]|INV"), ("ffs", r"FD[CPRSE]E?"), ("carry", r"CARRY4"),
               ("muxes", r"MUXF[78]"), ("lutram", r"RAM\d+[MX]\w*|SRL(16|C32)E"),
               ("clock", r"BUFG\w*"),
               ("brams", r"RAMB18E1|RAMB36E1"), ("dsps", r"DSP48E1?")],
    "gates": [("gates", r"\$_(AND|NAND|OR|NOR|XOR|XNOR|ANDNOT|ORNOT|MUX|NOT|NMUX)_"),
              ("ffs", r"\$_(S?DFFE?|DFFSRE?|ALDFFE?|SDFFCE|DLATCH)\w*_")],
}
MULTIPLIER_CELLS = r"\$mul|\$macc\w*|\$__MUL\w*|SB_MAC16|MULT18X18D|ALU54B|DSP48\w*"
# LUTs inside other cells, counted in ``luts`` as well: an ECP5 CCU2C carry cell is two LUT4s
# (nextpnr's TRELLIS_COMB count), so ``luts`` compares across families
LUTS_PER_CELL = {"ecp5": {"carry": 2}}
COUNTS = ("luts", "ffs", "carry", "brams", "dsps", "gates", "lutram", "muxes", "clock")


def count_multipliers(cells_by_type):
    """Multiplier cells in a ``num_cells_by_type`` dict (word-level or mapped)."""
    return sum(n for cell, n in cells_by_type.items() if re.fullmatch(MULTIPLIER_CELLS, cell))


def classify(cells_by_type, family):
    """``{class: count}`` for a mapped ``num_cells_by_type`` dict, plus ``multipliers`` (as
    :func:`count_multipliers`) and ``other`` (cells no class claims, by type). ``luts``
    includes the LUTs inside carry cells where the family packs them (:data:`LUTS_PER_CELL`)."""
    report = dict.fromkeys(COUNTS, 0)
    report["multipliers"], report["other"] = count_multipliers(cells_by_type), {}
    for cell, count in sorted(cells_by_type.items()):
        if cell == "$scopeinfo":
            continue
        for name, pattern in CELL_CLASSES[family]:
            if re.fullmatch(pattern, cell):
                report[name] += count
                break
        else:
            report["other"][cell] = count
    for name, luts in LUTS_PER_CELL.get(family, {}).items():
        report["luts"] += luts * report[name]
    return report


def synthesize(verilog, top, family, work_dir, *, timeout=None):
    """Synthesize one module (flattened); return :func:`classify`'s counts plus ``family``.

    ``multipliers`` counts the word-level ``$mul``/``$macc`` cells before mapping (a gate-level
    netlist has none left to see) plus multiplier cells in the mapped netlist.
    Per-stage reports come from synthesizing each stage's own Verilog: keeping the stages as
    separate modules inside one run makes YoWASP's ABC9 step fail on iCE40.
    """
    word, mapped = run_yosys(verilog, top, family, work_dir, timeout=timeout)
    report = classify(_cells(mapped), family)
    report["multipliers"] = max(report["multipliers"], count_multipliers(_cells(word)))
    return {"family": family, **report}


def _cells(stat):
    return stat["design"].get("num_cells_by_type", {})


def synthesize_design(design, family, work_dir, *, jobs=2, timeout=None):
    """Synthesize every stage of a :class:`~nomul.design.Design` on its own (the component
    of each stage plan, module named after the stage).

    Returns ``{"family", "stages": {name: report}, "total": summed report}``. The top itself
    is only wiring between the stages' streams, so the total is the sum of the stages. Stages
    run ``jobs`` at a time.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed
    from pathlib import Path

    from ..gateware.network import component
    from ..progress import step
    from .verilog import emit_verilog

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    sources = {}
    for name, plan in design.named_stages:
        sources[name] = work_dir / f"{name}.v"
        sources[name].write_text(emit_verilog(component(plan), name))

    def run(name, path):
        with step(f"synthesizing {name} with Yosys ({family})"):
            return synthesize(path, name, family, work_dir / name, timeout=timeout)

    with step(f"synthesizing {len(sources)} stages ({family})", total=len(sources)) as advance, \
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {name: pool.submit(run, name, path) for name, path in sources.items()}
        for _ in as_completed(futures.values()):
            advance()
        stages = {name: future.result() for name, future in futures.items()}
    total = {"family": family}
    for key in (*COUNTS, "multipliers"):
        total[key] = sum(report[key] for report in stages.values())
    other = {}
    for report in stages.values():
        for cell, count in report["other"].items():
            other[cell] = other.get(cell, 0) + count
    total["other"] = other
    return {"family": family, "stages": stages, "total": total}
