# SPDX-License-Identifier: MIT
"""Max-pooling over indices (indices are monotone in value): no padding, floor mode."""

import math
from dataclasses import dataclass

import numpy as np

from ...errors import ModelError
from . import WeightlessLayer, register

__all__ = ["MaxPool", "windows"]


def windows(array, kernel, stride):
    """Strided view ``(B, C, *out, *kernel)`` of the windows of ``(B, C, *spatial)``."""
    dims = len(kernel)
    view = np.lib.stride_tricks.sliding_window_view(array, kernel,
                                                    axis=tuple(range(2, 2 + dims)))
    return view[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]


@register
@dataclass(frozen=True, eq=False)
class MaxPool(WeightlessLayer):
    """Max of indices over each ``kernel`` window with ``stride`` (default: the kernel)."""

    kernel: tuple
    stride: tuple | None = None

    kind = "maxpool"
    header_fields = ("kernel", "stride")

    def __post_init__(self):
        super().__post_init__()
        kernel = self.tuple_field(self.kernel, "kernel")
        if len(kernel) not in (1, 2):
            raise ModelError(f"kernel: must have 1 or 2 dimensions, not {kernel}")
        stride = self.tuple_field(self.stride if self.stride is not None else kernel, "stride",
                                  length=len(kernel))
        object.__setattr__(self, "kernel", kernel)
        object.__setattr__(self, "stride", stride)

    def output_shape(self, input_shape):
        dims = len(self.kernel)
        if len(input_shape) != dims + 1:
            raise ModelError(f"maxpool: input shape {input_shape} is not (channels, "
                             f"{dims} spatial dims)")
        if any(size < k for size, k in zip(input_shape[1:], self.kernel, strict=True)):
            raise ModelError(f"maxpool: kernel {self.kernel} larger than the input "
                             f"{input_shape[1:]}")
        spatial = [(size - k) // s + 1
                   for size, k, s in zip(input_shape[1:], self.kernel, self.stride, strict=True)]
        return (input_shape[0], *spatial)

    def reference(self, indices):
        view = windows(np.asarray(indices, dtype=np.int64), self.kernel, self.stride)
        return view.max(axis=tuple(range(-len(self.kernel), 0)))

    def comparisons(self, out_shape):
        return (math.prod(self.kernel) - 1) * math.prod(out_shape)
