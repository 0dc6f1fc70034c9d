# SPDX-License-Identifier: MIT
"""Reduction trees as plans: adder trees, argmax trees, threshold counters.

Every tree in nomul has the same shape (:func:`tree_levels`): its leaves are paired left to
right level by level, an odd last node passing up unchanged, so ``depth = ceil(log2(n))``; a
pipeline register follows every ``register_every`` levels (:func:`registered`). The plans here
hold the proven bounds of every node, which size the hardware exactly
(:mod:`nomul.gateware.adder_tree`, :mod:`nomul.gateware.argmax` and
:mod:`nomul.gateware.threshold` build them) and which the estimator counts.
"""

import math
from dataclasses import dataclass

from ..numeric import Bounds, index_width, sum_bounds
from .params import as_bounds_tuple, as_field, as_int, as_threshold_rows, fill
from .ports import Field, Vector, field_of

__all__ = ["tree_levels", "registered", "tree_latency", "TreePlan", "ArgmaxPlan",
           "ThresholdPlan", "ClampPlan", "union"]


def union(bounds):
    """The smallest :class:`Bounds` holding every one of ``bounds``."""
    bounds = list(bounds)
    return Bounds(min(b.lo for b in bounds), max(b.hi for b in bounds))


def tree_levels(leaves, combine):
    """Node values of a binary tree, level by level: adjacent pairs combined, an odd last node
    passing up. ``levels[0]`` are the leaves, ``levels[-1]`` the root alone."""
    levels = [tuple(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(tuple(combine(below[j], below[j + 1]) if j + 1 < len(below) else below[j]
                            for j in range(0, len(below), 2)))
    return levels


def registered(level, depth, register_every, *, output=True):
    """Whether a pipeline register follows tree level ``level`` (1-based): every
    ``register_every`` levels (never when it is 0), and after the root when ``output``."""
    return (output and level == depth) or (register_every > 0 and level % register_every == 0)


def tree_latency(depth, register_every):
    """Registers in a tree registered every ``register_every`` levels and at its output:
    ``max(1, ceil(depth / register_every))``, or 1 when ``register_every == 0``."""
    if register_every == 0:
        return 1
    return max(1, math.ceil(depth / register_every))


@dataclass(frozen=True)
class TreePlan:
    """A pipelined binary adder tree computing ``bias + sum(terms)`` exactly.

    The leaves are the terms in order (:func:`tree_levels`). A non-zero bias takes the first
    free slot: the odd last node of the lowest level with an odd node count gets ``+ bias``
    instead of passing through; with none (``n_terms`` a power of two) it is added to term 0
    before the first level. So the depth, and the latency, depend on the term count alone,
    which keeps parallel trees with different biases in lockstep. Every node's bounds are
    proven from the terms' (``level_bounds``).

    ``latency`` = :func:`tree_latency`; ``ii`` = 1.
    """

    term_bounds: tuple
    bias: int = 0
    register_every: int = 1

    ii = 1

    def __post_init__(self):
        terms = as_bounds_tuple(self.term_bounds, "term_bounds")
        bias = as_int(self.bias, "bias")
        register_every = as_int(self.register_every, "register_every", minimum=0)
        counts = [len(terms)]
        while counts[-1] > 1:
            counts.append((counts[-1] + 1) // 2)
        depth = len(counts) - 1
        bias_level = None
        if bias:
            odd = [level for level, count in enumerate(counts[:-1]) if count % 2]
            bias_level = odd[0] if odd else -1
        leaves = terms if bias_level != -1 else (terms[0] + bias,) + terms[1:]
        levels = [leaves]
        for level in range(depth):
            below = levels[-1]
            upper = [sum_bounds(below[j:j + 2]) for j in range(0, len(below), 2)]
            if level == bias_level:
                upper[-1] = upper[-1] + bias
            levels.append(tuple(upper))
        fill(self, term_bounds=terms, bias=bias, register_every=register_every,
             term_union=union(terms), out_bounds=sum_bounds(terms, bias), depth=depth,
             bias_level=bias_level, level_bounds=tuple(levels),
             latency=tree_latency(depth, register_every))

    def registered(self, level):
        """Whether a register follows ``level`` (the root's always)."""
        return registered(level, self.depth, self.register_every)

    @property
    def in_port(self):
        """The terms, each in the field holding every term's bounds."""
        return Vector(field_of(self.term_union), len(self.term_bounds))

    @property
    def out_port(self):
        return field_of(self.out_bounds)


@dataclass(frozen=True)
class ArgmaxPlan:
    """The index of the largest of ``len(bounds)`` values, the lowest on ties: a tree of
    compare-select nodes (:func:`tree_levels`), registered every ``register_every`` levels and
    at the root. ``latency`` = :func:`tree_latency`; ``ii`` = 1."""

    bounds: tuple
    register_every: int = 1

    ii = 1

    def __post_init__(self):
        bounds = as_bounds_tuple(self.bounds, "bounds")
        register_every = as_int(self.register_every, "register_every", minimum=0)
        depth = (len(bounds) - 1).bit_length()
        fill(self, bounds=bounds, register_every=register_every, in_union=union(bounds),
             out=Field(index_width(len(bounds))), depth=depth,
             latency=tree_latency(depth, register_every))

    def registered(self, level):
        return registered(level, self.depth, self.register_every)

    @property
    def in_port(self):
        return Vector(field_of(self.in_union), len(self.bounds))

    @property
    def out_port(self):
        return self.out


@dataclass(frozen=True)
class ThresholdPlan:
    """A vector of multi-threshold activations: output ``j`` counts the thresholds of row
    ``j`` its input meets or exceeds (``>=``), or, where ``complement[j]``, the thresholds it
    does not meet (``T`` minus the count). Inputs are ``in_field`` numbers; thresholds
    outside its range are clamped to its minimum (always met) or maximum + 1 (never met),
    which changes no result (``clamped``).

    ``method`` ``"parallel"``: ``T`` comparators per output, latency 1. ``"search"``: a
    pipelined binary search, one comparison per stage, ``stages = ceil(log2(T + 1))`` stages
    and cycles. ``ii`` = 1.
    """

    rows: tuple
    in_field: Field
    method: str = "parallel"
    complement: tuple = ()

    ii = 1

    def __post_init__(self):
        rows = as_threshold_rows(self.rows)
        as_field(self.in_field, "in_field")
        method = str(self.method)
        if method not in ("parallel", "search"):
            raise ValueError(f"method must be parallel or search, not {self.method!r}")
        limits = self.in_field.bounds
        out = Field(index_width(len(rows[0]) + 1))
        complement = tuple(bool(c) for c in self.complement)
        if complement and len(complement) != len(rows):
            raise ValueError(f"complement has {len(complement)} entries for {len(rows)} rows")
        fill(self, rows=rows, method=method, count=len(rows[0]), out=out, stages=out.width,
             complement=complement if any(complement) else (),
             latency=1 if method == "parallel" else out.width,
             clamped=tuple(tuple(min(max(t, limits.lo), limits.hi + 1) for t in row)
                           for row in rows),
             const_bounds=Bounds(limits.lo, limits.hi + 1))

    @property
    def in_port(self):
        return Vector(self.in_field, len(self.rows))

    @property
    def out_port(self):
        return Vector(self.out, len(self.rows))


@dataclass(frozen=True)
class ClampPlan:
    """Threshold counts by shift and clamp, for thresholds evenly spaced by a power of two.

    Per output, ``units[j] = (always, count, base, shift)``: ``always`` thresholds every input
    meets, then ``count`` thresholds ``base + i * 2**shift`` (``i < count``); the output is
    ``always + clamp(floor((x - base) / 2**shift) + 1, 0, count)``, or, where
    ``complement[j]``, ``levels`` minus that. The hardware: two comparisons (``x < base``,
    ``x >= base + (count - 1) * 2**shift``), the quotient's low bits less a constant and a
    borrow from the ``shift`` low bits, and a multiplexer. Equal to a
    :class:`ThresholdPlan` with the same thresholds; latency 1, ii 1.
    """

    units: tuple
    in_field: Field
    levels: int
    complement: tuple = ()

    latency = 1
    ii = 1

    def __post_init__(self):
        as_field(self.in_field, "in_field")
        levels = as_int(self.levels, "levels", minimum=1)
        units = tuple(tuple(as_int(v, "unit") for v in unit) for unit in self.units)
        if not units:
            raise ValueError("a clamp needs at least one output")
        for always, count, _, shift in units:
            if always < 0 or count < 0 or shift < 0 or always + count > levels:
                raise ValueError(f"bad clamp unit {(always, count, shift)} of {levels} levels")
        complement = tuple(bool(c) for c in self.complement)
        if complement and len(complement) != len(units):
            raise ValueError(f"complement has {len(complement)} entries for {len(units)} units")
        fill(self, units=units, levels=levels, out=Field(index_width(levels + 1)),
             complement=complement if any(complement) else ())

    @classmethod
    def of(cls, rows, values, in_field, complement):
        """The clamp of threshold ``rows`` on inputs within ``values`` (one Bounds per row), or
        None when some row's thresholds between the bounds are not evenly spaced by a power of
        two."""
        units = []
        for row, bounds in zip(rows, values, strict=True):
            always = sum(1 for t in row if t <= bounds.lo)
            never = sum(1 for t in row if t > bounds.hi)
            middle = row[always:len(row) - never]
            steps = {b - a for a, b in zip(middle, middle[1:])}
            if len(steps) > 1:
                return None
            step = steps.pop() if steps else 1
            if step < 1 or step & (step - 1):
                return None
            units.append((always, len(middle), middle[0] if middle else 0,
                          step.bit_length() - 1))
        return cls(tuple(units), in_field, len(rows[0]), tuple(complement))

    @property
    def cheaper(self):
        """Whether this costs fewer compared bits than one comparator per threshold (two
        comparisons, the borrow's low bits and a small subtraction per output)."""
        width, out = self.in_field.width, self.out.width
        parallel = sum(count * width for _, count, _, _ in self.units)
        clamp = sum(min(count, 2) * width + (shift + 2 * out if count > 2 else 0)
                    for _, count, _, shift in self.units)
        return clamp < parallel

    @property
    def in_port(self):
        return Vector(self.in_field, len(self.units))

    @property
    def out_port(self):
        return Vector(self.out, len(self.units))
