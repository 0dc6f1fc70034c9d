# SPDX-License-Identifier: MIT
"""Flatten needs no hardware: the payload order is already C order."""

from ...models.kinds.flatten import Flatten
from . import lowers

__all__ = ["lower_flatten"]


@lowers(Flatten)
def lower_flatten(layer, in_shape, levels, position):
    """No stage."""
    return None
