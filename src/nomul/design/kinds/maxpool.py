# SPDX-License-Identifier: MIT
"""Max-pooling hardware: its plan, lowering and cost features."""

import math
from dataclasses import dataclass

from ...models.kinds.maxpool import MaxPool
from ...numeric import index_width
from ..cost import new_features
from ..params import as_int, as_window, fill
from ..ports import Field, Vector
from . import costs, lowers

__all__ = ["PoolPlan", "lower_maxpool", "pool_features"]


@dataclass(frozen=True)
class PoolPlan:
    """Max of unsigned indices over each window (floor mode, no padding), one whole tensor per
    transfer. Latency 1, ii 1."""

    shape: tuple
    kernel: tuple
    stride: tuple | None = None
    index_width: int = 1
    describe_as: tuple = ()

    latency = 1
    ii = 1

    def __post_init__(self):
        shape, kernel, stride, _, out_spatial = as_window(
            self.shape, self.kernel, self.stride, None, default_stride="kernel")
        fill(self, shape=shape, kernel=kernel, stride=stride,
             index_width=as_int(self.index_width, "index_width", minimum=1),
             out_shape=(shape[0], *out_spatial))

    @property
    def in_port(self):
        return Vector(Field(self.index_width), math.prod(self.shape))

    @property
    def out_port(self):
        return Vector(Field(self.index_width), math.prod(self.out_shape))

    def describe(self):
        return {**dict(self.describe_as), "latency": self.latency, "ii": self.ii}


@lowers(MaxPool)
def lower_maxpool(layer, in_shape, levels, position):
    """A :class:`PoolPlan` of ``layer`` reading an ``in_shape`` tensor of ``levels`` levels."""
    return PoolPlan(in_shape, layer.kernel, layer.stride, index_width(levels),
                    describe_as=(("index", position), ("kind", layer.kind)))


@costs(PoolPlan)
def pool_features(plan, lut_inputs):
    """A comparator tree per output element (``taps - 1`` compare-selects) and its register."""
    f = new_features()
    outputs = math.prod(plan.out_shape)
    taps = math.prod(plan.kernel)
    f["compare"] += outputs * (taps - 1) * plan.index_width
    f["mux"] += outputs * (taps - 1) * plan.index_width
    f["ff"] += outputs * plan.index_width + 1
    return f, []
