# SPDX-License-Identifier: MIT
"""Codebook-quantized training recipes (numpy) that produce integer models."""
