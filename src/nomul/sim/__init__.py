# SPDX-License-Identifier: MIT
"""Simulation: Amaranth-simulator helpers, cocotb drivers and runner, fast Verilator harness."""

__all__ = []
