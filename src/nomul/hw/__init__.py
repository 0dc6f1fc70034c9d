# SPDX-License-Identifier: MIT
"""Hardware flow: Verilog emission, tool discovery, synthesis, place and route, estimates;
the FPGA families (:mod:`.families`) and the estimate's calibration (:mod:`.calibrate`)."""

__all__ = []
