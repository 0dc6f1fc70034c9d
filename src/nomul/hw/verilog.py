# SPDX-License-Identifier: MIT
"""Verilog emission, for the hardware tools: :mod:`nomul.gateware.emit`'s functions."""

from ..gateware.emit import design_verilog, emit_verilog, write_verilog

__all__ = ["emit_verilog", "design_verilog", "write_verilog"]
