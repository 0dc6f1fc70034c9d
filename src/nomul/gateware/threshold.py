# SPDX-License-Identifier: MIT
"""Threshold units: accumulators in, the number of thresholds each meets or exceeds out.

:class:`ThresholdBank` is built from a :class:`~nomul.design.trees.ThresholdPlan`: parallel
comparators (latency 1) or a pipelined binary search (one comparison per stage, for many
levels).
"""

from amaranth.hdl import Cat, Const, Module, Signal, signed, unsigned

from ..design.trees import ClampPlan, ThresholdPlan
from .order import at_least
from .pipeline import PlanComponent, register_stage, shape_of, stage_enable

__all__ = ["ThresholdBank", "Clamp"]


class ThresholdBank(PlanComponent):
    """A vector of multi-threshold activations: output ``j`` counts the thresholds of row ``j``
    that accumulator ``j`` meets or exceeds.

    Matches :func:`nomul.models.reference.threshold_count` with per-channel thresholds of shape
    ``(M, T)`` exactly: ``>=`` (a value equal to a threshold goes up), duplicate thresholds
    count once each.

    The plan's ``rows``: one ascending row (ties allowed) per output, all of the same length
    ``T >= 1``; its ``in_field``: each accumulator. Thresholds outside the field's range are
    clamped to ``min`` (always met) or ``max + 1`` (never met), which changes no result.
    The plan's ``method``:
        ``"parallel"``: T comparators per output and a population count; latency 1.
        ``"search"``: a pipelined binary search over each row's constant thresholds. Stage
        ``s`` finds bit ``S-1-s`` of the count (``S = ceil(log2(T + 1))`` stages) with one
        comparison, against a constant picked by a mux from the bits found so far (count
        ``>= c`` exactly when ``acc >= thresholds[c-1]``); latency ``S``.

    ``latency``: 1 for ``"parallel"``, ``ceil(log2(T + 1))`` for ``"search"``: cycles from an
    input transfer to its result becoming valid without back-pressure. ``ii`` = 1.

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(in_shape, M)))``, ``in_shape`` the plan's
        ``in_field``
    o : ``Out(stream.Signature(data.ArrayLayout(unsigned(index_width(T + 1)), M)))``
        Element ``j`` (least significant first) belongs to row ``j``.
    """

    plan_type = ThresholdPlan

    def elaborate(self, platform):
        m = Module()
        enable = stage_enable(m, self.i, self.o, name="enable")
        if self.plan.method == "parallel":
            self._elaborate_parallel(m, enable)
        else:
            self._elaborate_search(m, enable)
        return m

    def _elaborate_parallel(self, m, enable):
        with m.If(enable):
            m.d.sync += self.o.valid.eq(self.i.valid)
            for j, row in enumerate(self.plan.clamped):
                code = sum(self.i.payload[j] >= t for t in row)     # thermometer -> count
                m.d.sync += self.o.payload[j].eq(self._complemented(j, code))

    def _complemented(self, j, code):
        """The count, or for a complemented output the thresholds not met."""
        if self.plan.complement and self.plan.complement[j]:
            return self.plan.count - code
        return code

    def _elaborate_search(self, m, enable):
        const_shape = (signed if self.plan.const_bounds.signed else unsigned)(
            self.plan.const_bounds.width)
        never = self.plan.const_bounds.hi                   # max + 1: never met
        stages, valid = self.plan.stages, self.i.valid
        accs = [self.i.payload[j] for j in range(len(self.plan.clamped))]
        found = [None] * len(self.plan.clamped)             # the count bits decided so far
        for s in range(stages):
            bit = stages - 1 - s                        # the count bit this stage decides
            last = s == stages - 1
            next_valid = self.o.valid if last else Signal(name=f"valid_s{s + 1}")
            with m.If(enable):
                m.d.sync += next_valid.eq(valid)
            valid = next_valid
            for j, row in enumerate(self.plan.clamped):
                # candidate count c = (found << (bit + 1)) | (1 << bit): the count is >= c
                # exactly when acc >= row[c - 1]; a c above T is never met
                options = []
                for prefix in range(1 << s):
                    c = (prefix << (bit + 1)) | (1 << bit)
                    options.append(row[c - 1] if c <= len(row) else never)
                if s == 0:
                    threshold = Const(options[0], const_shape)
                else:
                    threshold = Signal(const_shape, name=f"thr_s{s}_{j}")
                    with m.Switch(found[j]):
                        for prefix, value in enumerate(options):
                            with m.Case(prefix):
                                m.d.comb += threshold.eq(value)
                met = Signal(name=f"met_s{s}_{j}")
                m.d.comb += met.eq(accs[j] >= threshold if s == 0 else
                                   at_least(accs[j], threshold))
                code = met if s == 0 else Cat(met, found[j])      # met is the new LSB
                if last:
                    with m.If(enable):
                        m.d.sync += self.o.payload[j].eq(self._complemented(j, code))
                    continue
                new_found = Signal(s + 1, name=f"found_s{s + 1}_{j}", reset_less=True)
                new_acc = Signal(shape_of(self.plan.in_field), name=f"acc_s{s + 1}_{j}",
                                 reset_less=True)
                with m.If(enable):
                    m.d.sync += [new_found.eq(code), new_acc.eq(accs[j])]
                found[j], accs[j] = new_found, new_acc


class Clamp(PlanComponent):
    """Threshold counts by shift and clamp (a :class:`~nomul.design.trees.ClampPlan`): per
    output ``always + clamp(floor((x - base) / 2**shift) + 1, 0, count)``, from two
    comparisons, the quotient's low bits less a constant and a borrow, and a multiplexer.
    Equal to a :class:`ThresholdBank` with the same thresholds. Latency 1; ii 1."""

    plan_type = ClampPlan

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        enable = register_stage(m, self.i, self.o)
        width = plan.out.width
        for j, (always, count, base, shift) in enumerate(plan.units):
            x = self.i.payload[j]
            if count <= 2:                            # plain comparisons
                code = always + sum(x >= base + i * (1 << shift) for i in range(count))
            else:
                below = Signal(name=f"below_{j}")
                above = Signal(name=f"above_{j}")
                middle = Signal(width, name=f"middle_{j}")
                borrow = x.as_unsigned()[:shift] < (base & ((1 << shift) - 1)) if shift \
                    else Const(0, 1)
                quotient = (x >> shift).as_unsigned()[:width]
                m.d.comb += [
                    below.eq(x < base),
                    above.eq(x >= base + (count - 1) * (1 << shift)),
                    middle.eq(quotient - ((base >> shift) - 1 - always) - borrow),
                ]
                code = Signal(width, name=f"count_{j}")
                with m.If(below):
                    m.d.comb += code.eq(always)
                with m.Elif(above):
                    m.d.comb += code.eq(always + count)
                with m.Else():
                    m.d.comb += code.eq(middle)
            if plan.complement and plan.complement[j]:
                code = plan.levels - code
            with m.If(enable):
                m.d.sync += self.o.payload[j].eq(code)
        return m
