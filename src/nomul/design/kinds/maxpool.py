# SPDX-License-Identifier: MIT
"""Max-pooling hardware: its plan, lowering and cost features."""

import math
from dataclasses import dataclass

from ...models.kinds.maxpool import MaxPool
from ...numeric import index_width
from ..cost import new_features
from ..params import as_int, as_ints, fill
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
        shape = as_ints(self.shape, "shape", minimum=1)
        if len(shape) not in (2, 3):
            raise ValueError(f"shape must be (C, L) or (C, H, W), not {shape!r}")
        dims = len(shape) - 1
        kernel = as_ints(self.kernel, "kernel", minimum=1, length=dims)
        stride = kernel if self.stride is None else as_ints(self.stride, "stride", minimum=1,
                                                            length=dims)
        width = as_int(self.index_width, "index_width", minimum=1)
        if any(k > n for k, n in zip(kernel, shape[1:])):
            raise ValueError(f"kernel {kernel!r} is larger than the input {shape[1:]!r}")
        fill(self, shape=shape, kernel=kernel, stride=stride, index_width=width,
             out_shape=(shape[0], *((n - k) // s + 1 for n, k, s in
                                    zip(shape[1:], kernel, stride))))

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
