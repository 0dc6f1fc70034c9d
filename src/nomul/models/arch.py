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

Sizes are bounded by :data:`~nomul.models.spec.LIMITS` before anything is allocated: every
number and tensor by ``elements``, a layer's fan-in by ``fan_in`` and its weights
(outputs x fan-in) by ``weights``, and the whole network's weights by :data:`MAX_WEIGHTS`;
a size past them is an :class:`~nomul.errors.OptionsError` naming ``arch``.
"""

import math
import re
from dataclasses import dataclass

from ..errors import OptionsError
from .spec import LIMITS

__all__ = ["LayerPlan", "MAX_WEIGHTS", "parse_input_shape", "parse_arch"]

MAX_WEIGHTS = LIMITS.array_bytes // 8     # weights of a whole network (its int64 arrays load)

_NUMBER = re.compile(r"[0-9]+")
_CONV = re.compile(r"^c([0-9]+)k([0-9]+)(?:s([0-9]+))?(?:p([0-9]+))?$")
_POOL = re.compile(r"^m([0-9]+)(?:s([0-9]+))?$")


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


def parse_input_shape(token, name="arch"):
    """The shape ``(64,)``, ``(1, 40)`` or ``(1, 8, 8)`` of an input-shape token; a bad token is
    an :class:`OptionsError` naming ``name`` (the parameter it came from)."""
    parts = str(token).split("x")
    if not 1 <= len(parts) <= 3 or not all(_NUMBER.fullmatch(part) for part in parts):
        raise OptionsError(f"{name}: input shape {_show(token)} is not like 64, 1x40 or 1x8x8")
    shape = tuple(_size(part, "input size", name) for part in parts)
    if min(shape) < 1:
        raise OptionsError(f"{name}: input shape {_show(token)} is not like 64, 1x40 or 1x8x8")
    if math.prod(shape) > LIMITS.elements:
        raise OptionsError(f"{name}: input shape {token} has {math.prod(shape)} elements, more "
                           f"than the limit {LIMITS.elements}")
    return shape


def _show(text, limit=40):
    """``repr`` of a user's token, shortened."""
    text = str(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _size(digits, what, name="arch"):
    """A number the user typed (ASCII digits), at most ``LIMITS.elements``."""
    if len(digits.lstrip("0")) > 9 or int(digits) > LIMITS.elements:
        raise OptionsError(f"{name}: {what} {_show(digits, 20)[1:-1]} exceeds the limit "
                           f"{LIMITS.elements}")
    return int(digits)


def parse_arch(text, input_shape=None):
    """Plan the layers of ``text``.

    ``input_shape`` (the dataset's) must have as many elements as the first token; the samples
    are then read in C order as the token's shape (e.g. the 64 digits pixels as ``1x8x8``).
    """
    tokens = [t for t in str(text).strip().lower().split("-")]
    if len(tokens) < 2 or any(not t for t in tokens):
        raise OptionsError(f"arch: {text!r} needs an input shape and at least one layer, "
                           f"e.g. 64-32-10")
    shape = parse_input_shape(tokens[0])
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
    """Refuse empty or oversized tensors, fan-ins and weights (see the module docstring)."""
    total = 0
    for position, plan in enumerate(plans):
        where = f"layer {position} ({plan.kind})"
        if min(plan.out_shape) < 1:
            raise OptionsError(f"arch: layer {plan.kind} leaves an empty output {plan.out_shape}")
        elements = math.prod(plan.out_shape)
        if elements > LIMITS.elements:
            raise OptionsError(f"arch: {where} outputs {'x'.join(map(str, plan.out_shape))} = "
                               f"{elements} values, more than the limit {LIMITS.elements}")
        if plan.kind not in ("dense", "conv"):
            continue
        if plan.fan_in > LIMITS.fan_in:
            raise OptionsError(f"arch: {where} has a fan-in of {plan.fan_in}, more than the "
                               f"limit {LIMITS.fan_in}")
        weights = plan.outputs * plan.fan_in
        if weights > LIMITS.weights:
            raise OptionsError(f"arch: {where} has {weights} weights ({plan.outputs} outputs x "
                               f"{plan.fan_in} inputs), more than the limit {LIMITS.weights}")
        total += weights
    if total > MAX_WEIGHTS:
        raise OptionsError(f"arch: the network has {total} weights, more than the limit "
                           f"{MAX_WEIGHTS}")
    return plans


def _plan(token, shape):
    if _NUMBER.fullmatch(token):
        width = _size(token, "dense width")
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
        outputs, k = _size(conv[1], "channels"), _size(conv[2], "kernel")
        s, p = _size(conv[3] or "1", "stride"), _size(conv[4] or "0", "padding")
        if outputs < 1 or k < 1 or s < 1 or p >= k:
            raise OptionsError(f"arch: bad convolution {token!r} (padding must be < kernel)")
        spatial = tuple((n + 2 * p - k) // s + 1 for n in shape[1:])
        if any(n + 2 * p < k for n in shape[1:]):
            raise OptionsError(f"arch: kernel {k} of {token!r} is larger than its input {shape}")
        return [LayerPlan("conv", shape, (outputs, *spatial), outputs=outputs,
                          kernel=(k,) * dims, stride=(s,) * dims, padding=(p,) * dims)]
    if pool:
        k = _size(pool[1], "max-pool kernel")
        s = _size(pool[2], "max-pool stride") if pool[2] else k
        if k < 1 or s < 1 or any(n < k for n in shape[1:]):
            raise OptionsError(f"arch: max-pool {token!r} does not fit its input {shape}")
        spatial = tuple((n - k) // s + 1 for n in shape[1:])
        return [LayerPlan("maxpool", shape, (shape[0], *spatial), kernel=(k,) * dims,
                          stride=(s,) * dims)]
    raise OptionsError(f"arch: unknown layer token {_show(token)} (use N, cNkK[sS][pP], mK[sS], "
                       f"f)")
