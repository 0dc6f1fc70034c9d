# SPDX-License-Identifier: MIT
"""Hardware flow: Verilog emission, tool discovery, synthesis, place and route, estimates."""

__all__ = []
