# SPDX-License-Identifier: MIT
"""Synthesis reports: Yosys ``stat -json`` turned into LUTs, FFs, carries, block RAMs, DSPs.

:func:`synthesize` runs Yosys (:mod:`nomul.hw.toolchain`) on one module; cells are classified
by the family's cell classes (:attr:`nomul.hw.families.Family.cell_classes`). Every report
counts multiplier cells (``$mul``/``$macc`` left unmapped, and the family's DSP cells: iCE40
``SB_MAC16``, ECP5 ``MULT18X18D``, Xilinx ``DSP48*``): a nomul design must have none. A
family with a cell library (the ASIC target, :mod:`nomul.hw.families.sky130`) also reports
``area_um2``: Yosys's ``stat -liberty`` chip area, checked against the sum of the library's
cell areas over the cell counts; a netlist with cells the library does not have (Yosys cells
left unmapped) is refused.
"""

import re
from pathlib import Path

from ..errors import ToolError
from . import families
from .toolchain import run_yosys

__all__ = ["WORD_MULTIPLIERS", "COUNTS", "classify", "count_multipliers", "synthesize",
           "synthesize_design", "cell_area"]

# multiplications Yosys has not mapped (word-level cells, its internal multiplier macros)
WORD_MULTIPLIERS = r"\$mul|\$macc\w*|\$__MUL\w*"
COUNTS = ("luts", "ffs", "carry", "brams", "bram_bits", "dsps", "gates", "lutram", "muxes",
          "clock")


def _multiplier_pattern(family):
    specs = families.FAMILIES.values() if family is None else (families.family(family),)
    return "|".join([WORD_MULTIPLIERS, *(spec.multiplier_cells for spec in specs
                                         if spec.multiplier_cells)])


def count_multipliers(cells_by_type, family=None):
    """Multiplier cells in a ``num_cells_by_type`` dict (word-level or mapped): unmapped
    multiplications and ``family``'s multiplier cells (every family's when None)."""
    pattern = _multiplier_pattern(family)
    return sum(n for cell, n in cells_by_type.items() if re.fullmatch(pattern, cell))


def classify(cells_by_type, family):
    """``{class: count}`` for a mapped ``num_cells_by_type`` dict, plus ``multipliers`` (as
    :func:`count_multipliers`) and ``other`` (cells no class claims, by type). ``luts``
    includes the LUTs inside carry cells where the family packs them
    (:attr:`~nomul.hw.families.Family.luts_per_cell`); ``bram_bits`` the block RAMs'
    capacity, each at its own cell's (:meth:`~nomul.hw.families.Family.block_ram_bits`)."""
    spec = families.family(family)
    report = dict.fromkeys(COUNTS, 0)
    report["multipliers"], report["other"] = count_multipliers(cells_by_type, family), {}
    for cell, count in sorted(cells_by_type.items()):
        if cell == "$scopeinfo":
            continue
        for name, pattern in spec.cell_classes:
            if re.fullmatch(pattern, cell):
                report[name] += count
                break
        else:
            report["other"][cell] = count
    for name, luts in spec.luts_per_cell.items():
        report["luts"] += luts * report[name]
    brams = dict(spec.cell_classes).get("brams")
    report["bram_bits"] = sum(count * spec.block_ram_bits(cell)
                              for cell, count in cells_by_type.items()
                              if brams and re.fullmatch(brams, cell))
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
    report["multipliers"] = max(report["multipliers"],
                                count_multipliers(_cells(word), family))
    library = families.family(family).area_liberty
    if library:
        report["area_um2"] = cell_area(mapped, Path(work_dir) / library, top)
    return {"family": family, **report}


def cell_area(stat, liberty, top="design"):
    """µm²: the chip area of a ``stat -json -liberty`` dict, checked against the sum of the
    Liberty file's cell areas over its cell counts (:class:`~nomul.errors.ToolError` when
    they differ, or when a cell is not in the library)."""
    from .liberty import cell_areas

    areas = cell_areas(liberty)
    cells = {cell: n for cell, n in _cells(stat).items() if cell != "$scopeinfo"}
    unknown = sorted(set(cells) - set(areas))
    if unknown:
        raise ToolError(f"Yosys left {len(unknown)} cell types of {top} unmapped to "
                        f"{Path(liberty).name} ({', '.join(unknown[:3])}): no area")
    summed = sum(areas[cell] * n for cell, n in cells.items())
    reported = float(stat["design"].get("area", 0.0))
    if abs(summed - reported) > 1e-6 * max(1.0, summed):
        raise ToolError(f"Yosys's area of {top} ({reported} um2) differs from the sum of its "
                        f"cells' areas ({summed} um2)")
    return round(summed, 4)


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

    from ..gateware.emit import emit_verilog
    from ..gateware.network import component
    from ..progress import step

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
    if all("area_um2" in report for report in stages.values()) and stages:
        total["area_um2"] = round(sum(report["area_um2"] for report in stages.values()), 4)
    return {"family": family, "stages": stages, "total": total}
