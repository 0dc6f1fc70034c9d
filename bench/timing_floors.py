# SPDX-License-Identifier: MIT
"""What a device reaches with the folded engine's elements alone: a timing floor.

Issue 16 asks 100 MHz of the demo's folded design on the UP5K and 200 MHz on the ECP5-25k.
This script places and routes, in nomul's own pin shell and flow
(``nomul.hw.pnr.place_and_route`` at the issue's clock, the same Yosys and nextpnr),
stripped-down designs with no arithmetic beyond what they name:

- ``acc B``: one B-bit accumulator, ``acc <= acc + x`` (an 8-bit signed input), no enable:
  the carry chain of an accumulator that wide;
- ``stall N``: N 8-bit registers loading on one stall-all enable ``~valid | o__ready`` (the
  rule every nomul stage follows), each the last one rotated and XORed (one LUT a bit): the
  enable's fan-out at the engine's size (:data:`DEVICES`);
- ``skid N``: ``stall N`` with a two-entry skid buffer after it, so that the enable reads a
  register of the design (the skid's ``full``) instead of the shell's ready;
- ``copies N``: ``skid N`` with the enable computed a cycle ahead into 8 kept registers, each
  loading an eighth of the pipeline (the enable replicated where its fan-out is high);
- ``free N``: the same registers without the enable, valid bits travelling beside the data.

These are timing structures, not designs anyone runs: none is simulated, and their data path
(a rotate and XOR per register) stands in for one LUT of logic. It prints the Fmax per
placer seed and the critical path. ``--pin-reset`` passes the reset pin straight to the
design, as nomul's shell did until 2026-11-29 (it registers the reset like its other inputs
now). Run: ``.venv/bin/python bench/timing_floors.py [--device up5k|ecp5-25k] [--seeds 1,2,3]
[--pin-reset] [--registers N] [--only KINDS] [--work DIR]``.
"""

import argparse
import os
import platform
import tempfile
from pathlib import Path

from nomul.hw import pnr
from nomul.hw.pnr import place_and_route

PORTS = """module t(input clk, input rst, input [7:0] i__payload, input i__valid,
  output i__ready, output [{out}:0] o__payload, output o__valid, input o__ready);"""


def accumulator(bits):
    return PORTS.format(out=bits - 1) + f"""
  reg [{bits - 1}:0] acc;
  reg [7:0] x;
  assign i__ready = 1'b1;
  assign o__valid = 1'b1;
  assign o__payload = acc;
  always @(posedge clk) begin
    x <= i__payload;
    if (rst) acc <= 0;
    else acc <= acc + {{{{{bits - 8}{{x[7]}}}}, x}};
  end
endmodule
""", bits


def _registers(count, enable):
    moves = "\n".join(f"    {enable}r{k} <= r{k - 1} ^ {{r{k - 1}[0], r{k - 1}[7:1]}};"
                      for k in range(1, count))
    return " ".join(f"reg [7:0] r{k};" for k in range(count)), moves


def stall_all(count):
    declared, moves = _registers(count, "if (enable) ")
    return PORTS.format(out=7) + f"""
  {declared}
  reg valid;
  wire enable = ~valid | o__ready;
  assign i__ready = enable;
  assign o__valid = valid;
  assign o__payload = r{count - 1};
  always @(posedge clk) begin
    if (rst) valid <= 0;
    else if (enable) valid <= i__valid;
    if (enable) r0 <= i__payload;
{moves}
  end
endmodule
""", 8


def stall_all_skid(count):
    """``stall_all`` with a two-entry skid buffer after its last register: the pipeline's
    enable reads the skid's registered ``full``, not the shell's ready."""
    declared, moves = _registers(count, "if (enable) ")
    return PORTS.format(out=7) + f"""
  {declared}
  reg valid, full;
  reg [7:0] held;
  wire enable = ~valid | ~full;
  assign i__ready = enable;
  assign o__valid = full | valid;
  assign o__payload = full ? held : r{count - 1};
  always @(posedge clk) begin
    if (rst) begin valid <= 0; full <= 0; end
    else begin
      if (enable) valid <= i__valid;
      if (o__ready) full <= 0;
      else if (valid & ~full) full <= 1;
    end
    if (valid & ~full & ~o__ready) held <= r{count - 1};
    if (enable) r0 <= i__payload;
{moves}
  end
endmodule
""", 8


def stall_all_copies(count, copies=8):
    """``stall_all_skid`` with the enable computed a cycle ahead into ``copies`` registers
    (kept apart: Yosys would merge them), each loading a share of the pipeline."""
    per = -(-count // copies)
    declared, _ = _registers(count, "")
    moves = "\n".join(f"    if (copy[{k // per}]) "
                      f"r{k} <= r{k - 1} ^ {{r{k - 1}[0], r{k - 1}[7:1]}};"
                      for k in range(1, count))
    return PORTS.format(out=7) + f"""
  {declared}
  reg valid, full;
  reg [7:0] held;
  (* keep *) reg [{copies - 1}:0] copy;
  wire enable = ~valid | ~full;
  wire valid_next = enable ? i__valid : valid;
  wire full_next = o__ready ? 1'b0 : (valid & ~full) ? 1'b1 : full;
  assign i__ready = enable;
  assign o__valid = full | valid;
  assign o__payload = full ? held : r{count - 1};
  always @(posedge clk) begin
    if (rst) begin valid <= 0; full <= 0; copy <= {{{copies}{{1'b1}}}}; end
    else begin
      valid <= valid_next;
      full <= full_next;
      copy <= {{{copies}{{~valid_next | ~full_next}}}};
    end
    if (valid & ~full & ~o__ready) held <= r{count - 1};
    if (copy[0]) r0 <= i__payload;
{moves}
  end
endmodule
""", 8


def free_running(count):
    declared, moves = _registers(count, "")
    return PORTS.format(out=7) + f"""
  {declared}
  reg [{count - 1}:0] valid;
  assign i__ready = 1'b1;
  assign o__valid = valid[{count - 1}];
  assign o__payload = r{count - 1};
  always @(posedge clk) begin
    if (rst) valid <= 0;
    else valid <= {{valid[{count - 2}:0], i__valid}};
    r0 <= i__payload;
{moves}
  end
endmodule
""", 8


# device -> (the issue's target clock in MHz, registers of the engine's size: the demo's folded
# design has about 2 560 flip-flops at PE 1 x SIMD 1, 5 490 at PE 2 x SIMD 8)
DEVICES = {"up5k": (100, 320), "ecp5-25k": (200, 686)}


def designs(registers):
    return [("acc", accumulator, b) for b in (12, 16, 20, 24)] + \
        [("stall", stall_all, n) for n in (32, registers)] + \
        [("skid", stall_all_skid, registers), ("copies", stall_all_copies, registers),
         ("free", free_running, registers)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--device", choices=sorted(DEVICES), default="up5k")
    parser.add_argument("--pin-reset", action="store_true",
                        help="the reset pin straight to the design (the shell before 2026-11-29)")
    parser.add_argument("--registers", type=int,
                        help="8-bit registers of the enable designs (default: the device's)")
    parser.add_argument("--only", help="comma list of design kinds (acc, stall, skid, copies, "
                        "free)")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.pin_reset:
        shell = pnr.pin_shell

        def pin_reset_shell(top, in_width, out_width):
            text = shell(top, in_width, out_width)
            text = text.replace("reg vin_q, rdy_q, rst_q;", "reg vin_q, rdy_q;")
            text = text.replace("\n    rst_q <= rst;", "")
            return text.replace(".rst(rst_q)", ".rst(rst)")

        pnr.pin_shell = pin_reset_shell
    seeds = tuple(int(s) for s in args.seeds.split(","))
    work = args.work or Path(tempfile.mkdtemp(prefix="nomul-up5k-floors-"))
    freq, registers = DEVICES[args.device]
    registers = args.registers or registers
    print(f"{platform.machine()}, {os.cpu_count()} cores; {args.device}, --freq {freq}, "
          f"seeds {seeds}"
          + ("; the reset pin straight to the design" if args.pin_reset else ""))
    print(f"{'design':<12}{'LUT4':>6}{'FF':>6}  {'Fmax per seed (MHz)':<28}critical path")
    only = set(args.only.split(",")) if args.only else None
    for kind, make, size in designs(registers):
        if only is not None and kind not in only:
            continue
        text, out_width = make(size)
        directory = work / f"{kind}{size}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "t.v").write_text(text)
        start = _children_cpu()
        report = place_and_route(directory / "t.v", "t", 8, out_width, args.device,
                                 directory / "run", freq_mhz=freq, seeds=seeds)
        path = report["critical_path"]
        fmax = " / ".join(f"{report['fmax_by_seed'][s]:.1f}" for s in seeds)
        print(f"{kind + ' ' + str(size):<12}{report['cells']['luts']:>6}"
              f"{report['cells']['ffs']:>6}  {fmax:<28}{path['logic_levels']} levels, "
              f"{path['delay_ns']} ns ({path['routing_ns']} routing): {path['from'][:34]} -> "
              f"{path['to'][:34]}  [{_children_cpu() - start:.1f} CPU-s]")


def _children_cpu():
    usage = os.times()
    return usage.children_user + usage.children_system


if __name__ == "__main__":
    main()
