# SPDX-License-Identifier: MIT
"""Flatten: C order over channels, then space (index = c*H*W + h*W + w)."""

import math
from dataclasses import dataclass

from . import WeightlessLayer, register

__all__ = ["Flatten"]


@register
@dataclass(frozen=True, eq=False)
class Flatten(WeightlessLayer):
    """C-order flatten of ``(C, *spatial)`` to ``(C * prod(spatial),)``; no hardware (the
    payload order is already C order)."""

    kind = "flatten"

    def output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def reference(self, indices):
        return indices.reshape(indices.shape[0], -1)
