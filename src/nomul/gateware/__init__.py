# SPDX-License-Identifier: MIT
"""Amaranth components: product tables, adder trees, threshold units, layers, network top."""

__all__ = []
