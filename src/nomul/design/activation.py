# SPDX-License-Identifier: MIT
"""What a weighted layer's hardware does with its accumulators, as typed values.

:class:`Thresholds` (one ascending row per output: the output is the number of thresholds its
accumulator meets or exceeds), :class:`Argmax` (the lowest index of the largest accumulator) or
:class:`Raw` (the accumulators themselves). Built from a model layer by :func:`activation_of`,
one row per hardware output (a convolution's outputs are its channels times its positions).
"""

from dataclasses import dataclass

from .params import as_threshold_rows

__all__ = ["Thresholds", "Argmax", "Raw", "activation_of"]


@dataclass(frozen=True)
class Thresholds:
    """Per output, an ascending row of thresholds (all rows the same length, at least 1)."""

    rows: tuple

    kind = "thresholds"

    def __post_init__(self):
        object.__setattr__(self, "rows", as_threshold_rows(self.rows))

    @property
    def count(self):
        """Thresholds per output (``T``); outputs take ``T + 1`` levels."""
        return len(self.rows[0])


@dataclass(frozen=True)
class Argmax:
    """The lowest index of the largest accumulator."""

    kind = "argmax"


@dataclass(frozen=True)
class Raw:
    """The accumulators themselves."""

    kind = "raw"


def activation_of(layer, outputs):
    """The typed activation of a model layer with ``outputs`` hardware outputs (per-channel
    thresholds repeated over a convolution's positions, outputs in C order)."""
    act = layer.activation
    if act.kind == "argmax":
        return Argmax()
    if act.kind == "raw":
        return Raw()
    thresholds = act.thresholds
    per_channel = outputs // layer.out_channels
    if thresholds.ndim == 1:
        return Thresholds((tuple(int(t) for t in thresholds),) * outputs)
    return Thresholds(tuple(tuple(int(t) for t in thresholds[o // per_channel])
                            for o in range(outputs)))
