# SPDX-License-Identifier: MIT
"""The ``--arch`` syntax: dash-separated tokens, the first one the input shape.

- ``64`` first: a 1-D input of 64 elements; ``1x40`` a 1-channel signal of length 40;
  ``1x8x8`` a 1-channel 8x8 image (channels first).
- ``N``: a dense layer with N outputs (a flatten is inserted before it when the input is not 1-D).
- ``cN`` ``k``K [``s``S] [``p``P]: a convolution with N output channels, kernel K, stride S
  (default 1), padding P (default 0); 1-D or 2-D after the input (square kernels for 2-D).
- ``mK`` [``s``S]: max-pool with kernel K and stride S (default K).
- ``f``: flatten.

Examples: ``64-64-32-10`` (digits MLP), ``1x40-c8k5p2-m2-c16k3p1-m2-32-10`` (MNIST-1D conv net).
The last dense layer's width is the number of classes.
"""

import math
import re
from dataclasses import dataclass

from ..errors import OptionsError

__all__ = ["LayerPlan", "parse_arch"]

_CONV = re.compile(r"^c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?$")
_POOL = re.compile(r"^m(\d+)(?:s(\d+))?$")


@dataclass(frozen=True)
class LayerPlan:
    """One planned layer: ``kind`` in dense/conv/maxpool/flatten, its geometry and shapes."""

    kind: str
    in_shape: tuple
    out_shape: tuple
    outputs: int = 0
    kernel: tuple = ()
    stride: tuple = ()
    padding: tuple = ()

    @property
    def fan_in(self):
        if self.kind == "dense":
            return self.in_shape[0]
        return math.prod(self.kernel) * self.in_shape[0]


def _input_shape(token):
    try:
        shape = tuple(int(part) for part in token.split("x"))
    except ValueError:
        raise OptionsError(f"arch: input shape {token!r} is not like 64, 1x40 or 1x8x8") from None
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise OptionsError(f"arch: input shape {token!r} is not like 64, 1x40 or 1x8x8")
    return shape


def parse_arch(text, input_shape=None):
    """Plan the layers of ``text``.

    ``input_shape`` (the dataset's) must have as many elements as the first token; the samples
    are then read in C order as the token's shape (e.g. the 64 digits pixels as ``1x8x8``).
    """
    tokens = [t for t in str(text).strip().lower().split("-")]
    if len(tokens) < 2 or any(not t for t in tokens):
        raise OptionsError(f"arch: {text!r} needs an input shape and at least one layer, "
                           f"e.g. 64-32-10")
    shape = _input_shape(tokens[0])
    if input_shape is not None and math.prod(input_shape) != math.prod(shape):
        raise OptionsError(f"arch: input {tokens[0]} does not fit the data's shape "
                           f"{'x'.join(map(str, input_shape))}")
    plans = []
    for token in tokens[1:]:
        plan = _plan(token, shape)
        plans.extend(plan)
        shape = plans[-1].out_shape
    if plans[-1].kind != "dense":
        raise OptionsError(f"arch: {text!r} must end with a dense layer (the classes)")
    return shape_check(plans)


def shape_check(plans):
    for plan in plans:
        if min(plan.out_shape) < 1:
            raise OptionsError(f"arch: layer {plan.kind} leaves an empty output {plan.out_shape}")
    return plans


def _plan(token, shape):
    if token.isdigit():
        width = int(token)
        if width < 1:
            raise OptionsError(f"arch: dense width must be >= 1, not {width}")
        plans = []
        if len(shape) > 1:
            plans.append(LayerPlan("flatten", shape, (math.prod(shape),)))
            shape = plans[-1].out_shape
        plans.append(LayerPlan("dense", shape, (width,), outputs=width))
        return plans
    if token == "f":
        return [LayerPlan("flatten", shape, (math.prod(shape),))]
    dims = len(shape) - 1
    conv, pool = _CONV.match(token), _POOL.match(token)
    if (conv or pool) and dims < 1:
        raise OptionsError(f"arch: {token!r} needs a signal or image input, not shape {shape}")
    if conv:
        outputs, k = int(conv[1]), int(conv[2])
        s, p = int(conv[3] or 1), int(conv[4] or 0)
        if outputs < 1 or k < 1 or s < 1 or p >= k:
            raise OptionsError(f"arch: bad convolution {token!r} (padding must be < kernel)")
        spatial = tuple((n + 2 * p - k) // s + 1 for n in shape[1:])
        if any(n + 2 * p < k for n in shape[1:]):
            raise OptionsError(f"arch: kernel {k} of {token!r} is larger than its input {shape}")
        return [LayerPlan("conv", shape, (outputs, *spatial), outputs=outputs,
                          kernel=(k,) * dims, stride=(s,) * dims, padding=(p,) * dims)]
    if pool:
        k = int(pool[1])
        s = int(pool[2] or k)
        if k < 1 or s < 1 or any(n < k for n in shape[1:]):
            raise OptionsError(f"arch: max-pool {token!r} does not fit its input {shape}")
        spatial = tuple((n - k) // s + 1 for n in shape[1:])
        return [LayerPlan("maxpool", shape, (shape[0], *spatial), kernel=(k,) * dims,
                          stride=(s,) * dims)]
    raise OptionsError(f"arch: unknown layer token {token!r} (use N, cNkK[sS][pP], mK[sS], f)")
