# SPDX-License-Identifier: MIT
"""Bitstreams for real boards (``nomul board``): the network behind a UART, amaranth-boards
and the PyPI tools only.

The boards are the families' (:attr:`nomul.hw.families.Family.boards`: the iCEBreaker on
iCE40, the ULX3S on ECP5). The board's UART (115200 baud, 8N1) carries the protocol of
:class:`~nomul.gateware.uart.UartShell`. Amaranth's build scripts find the YoWASP tools through
the environment variables the family names (docs/toolchain.md: ``YOSYS``, ``NEXTPNR_ICE40``,
``ICEPACK``, ``NEXTPNR_ECP5``, ``ECPPACK``); they run inside the build directory with relative
paths, which YoWASP needs.
"""

import os
from pathlib import Path

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from ..errors import NomulError, OptionsError, ToolError
from ..gateware.uart import UartShell
from ..numeric import Bounds
from . import families
from .toolchain import tool_path
from .yowasp_stack import launcher

__all__ = ["BOARDS", "BAUD", "build_board"]

BAUD = 115200
# board -> family name, from the families
BOARDS = families.boards()


class BoardTop(Elaboratable):
    """The UART shell on the board's default clock and UART pins."""

    def __init__(self, top, model):
        self.top, self.model = top, model

    def elaborate(self, platform):
        m = Module()
        divisor = round(platform.default_clk_frequency / BAUD)
        spec = self.model.input
        m.submodules.shell = shell = UartShell(
            self.top, elements=spec.elements, raw_bits=Bounds(spec.raw_min, spec.raw_max).width,
            divisor=divisor)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buffer = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx = io.Buffer("o", uart.tx)
        m.d.comb += [shell.rx.eq(rx.i), tx.o.eq(shell.tx)]
        return m


# the analytical estimate's LUT error stays well inside this margin (bench/RESULTS.md), so a
# design refused here would not have fitted; one just under it goes to nextpnr, which decides
FIT_MARGIN = 1.25


def _refuse_what_cannot_fit(design, family, board):
    """A one-line error, before minutes of synthesis, for a design the board's FPGA cannot
    hold by the analytical estimate (:mod:`nomul.hw.estimate`)."""
    from .estimate import estimate_design

    design.check_family(family)
    device = families.family(family).device
    total = estimate_design(design, family)["total"]
    over = [f"{total[key]} {key} of {available}" for key, available in device.capacity.items()
            if total[key] > (FIT_MARGIN * available if key in ("luts", "ffs") else available)]
    if over:
        raise OptionsError(f"the design does not fit the {board}'s {device.name}: estimated "
                           f"{', '.join(over)}; fold it (arch folded, smaller pe and simd)")


def build_board(model, options, board, directory):
    """Build the bitstream of ``model`` built with ``options`` for ``board`` in ``directory``.

    Returns ``{"board", "bitstream", "clock_hz", "baud", "divisor", "fmax_mhz",
    "utilization"}`` (the placed design's Fmax and ``{cell: [used, available]}``). Raises a one-line
    :class:`NomulError` for a model the UART protocol cannot carry and :class:`ToolError` when
    the tools fail (a design too large for the device among them), naming the log.
    """
    import importlib

    from ..design import lower
    from ..gateware.network import NetworkTop

    if board not in BOARDS:
        raise OptionsError(f"unknown board {board!r}; choose from {', '.join(BOARDS)}")
    if model.output != "argmax":
        raise OptionsError("a board answers with a class index; the model's output is raw")
    spec = model.input
    if Bounds(spec.raw_min, spec.raw_max).width > 8:
        raise OptionsError(f"raw inputs {spec.raw_min}..{spec.raw_max} do not fit one byte per "
                           "element")
    spec = families.family(BOARDS[board])
    module, name = spec.boards[board]
    platform = getattr(importlib.import_module(module), name)()
    design = lower(model, options)
    _refuse_what_cannot_fit(design, spec.name, board)
    top = NetworkTop(design)
    directory = Path(directory).resolve()
    environment = {var: tool_path(tool) for var, tool in spec.tools.items()}
    if "YOSYS" in environment:             # the same Yosys with a deeper WebAssembly stack
        environment["YOSYS"] = str(launcher(directory))
    saved = {var: os.environ.get(var) for var in environment}
    os.environ.update(environment)
    from ..progress import step

    try:
        # prepare + run the build script, not Platform.build: its upfront tool check also
        # demands the board's programmer (openFPGALoader for the ULX3S), never run here
        with step(f"building the {board} bitstream (Yosys, nextpnr) in {directory}"):
            platform.prepare(BoardTop(top, model), name="top",
                             nextpnr_opts="--report report.json").execute_local(str(directory))
    except NomulError:
        raise
    except Exception as error:                      # the build script failed: say where
        message = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        raise ToolError(f"{board} bitstream build failed ({message[:200]}); see the logs in "
                        f"{directory}") from None
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    bitstream = directory / f"top{spec.bitstream_suffix}"
    if not bitstream.exists():
        raise ToolError(f"{board}: no bitstream was written; see the logs in {directory}")
    return {"board": board, "bitstream": str(bitstream),
            "clock_hz": platform.default_clk_frequency, "baud": BAUD,
            "divisor": round(platform.default_clk_frequency / BAUD),
            **_placed(directory / "report.json")}


def _placed(report_path):
    """``{"fmax_mhz", "utilization": {cell: [used, available]}}`` from nextpnr's report."""
    import json

    try:
        placed = json.loads(report_path.read_text())
    except (OSError, ValueError):
        raise ToolError(f"nextpnr wrote no readable report ({report_path})") from None
    clocks = placed.get("fmax", {})
    return {"fmax_mhz": min((c["achieved"] for c in clocks.values()), default=None),
            "utilization": {cell: [u["used"], u["available"]]
                            for cell, u in placed.get("utilization", {}).items() if u["used"]}}
