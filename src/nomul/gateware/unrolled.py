# SPDX-License-Identifier: MIT
"""The unrolled layer: every output in parallel through one shared adder graph.

:class:`UnrolledLayer` is built from a :class:`~nomul.design.unrolled.UnrolledPlan`: the
graph's leaves are read from the input vector (an index; a constant lookup on a group's index
bits, an asynchronous read port of a ROM with ``rom_style = "logic"``, one ROM per distinct
table, shared by every lookup of it; a constant), each node is one
adder ``a + sign * (b << shift)`` exactly as wide as its proven bounds (with ``adders="ternary"``
a node of ``plan.fused`` is one three-input adder of Xilinx primitives,
:mod:`.ternary`, and the operand it takes is not built), registers cut the
graph every ``register_every`` adder levels (a value used in a later stage is carried by one
register per stage, shared by its users), and every output value is registered at the end
of the last stage (unless ``plan.sum_register`` is False: the activation then reads the last
stage's values directly); then the activation (thresholds, a shift and clamp, argmax) or the raw
values. One inference per clock; the whole pipeline stalls as one (stall-all) while the
output is not taken. ``latency`` = the plan's.
Matches :func:`nomul.models.reference.weighted` and the layer's activation exactly.
"""

from amaranth.hdl import Cat, Const, MemoryData, MemoryInstance, Module, Signal
from amaranth.lib import wiring

from ..design.graph import ConstLeaf, InputLeaf
from ..design.ports import field_of
from ..design.trees import ArgmaxPlan, ClampPlan, ThresholdPlan
from ..design.unrolled import UnrolledPlan
from ..numeric import Bounds
from .argmax import Argmax
from .pipeline import PlanComponent, ValidChain, shape_of, stage_enable
from .ternary import ternary_sum
from .threshold import Clamp, ThresholdBank

__all__ = ["UnrolledLayer"]


class _Sink:
    """The valid/ready/payload the graph drives: the activation's input, or the output."""

    def __init__(self, stream):
        self.valid, self.ready, self.payload = stream.valid, stream.ready, stream.payload


class UnrolledLayer(PlanComponent):
    """All outputs of a layer in parallel through one adder graph (see the module docstring)."""

    plan_type = UnrolledPlan

    def __init__(self, plan):
        super().__init__(plan)
        act = plan.act
        self.activation = ThresholdBank(act) if isinstance(act, ThresholdPlan) else \
            Clamp(act) if isinstance(act, ClampPlan) else \
            Argmax(act) if isinstance(act, ArgmaxPlan) else None

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        if self.activation is not None:
            m.submodules.activation = self.activation
            wiring.connect(m, self.activation.o, wiring.flipped(self.o))
            sink = _Sink(self.activation.i)
        else:
            sink = _Sink(self.o)
        registers = plan.stages - (not plan.sum_register)   # register stages of the graph
        if registers:
            enable = stage_enable(m, self.i, sink, name="enable")
            valid = ValidChain(m, enable, self.i, sink, registers)
            for _ in range(registers):
                valid.advance()
        else:                          # one combinational stage into the activation's register
            m.d.comb += [sink.valid.eq(self.i.valid), self.i.ready.eq(sink.ready)]

        signals = {}                   # (id, stage) -> the value in that stage
        loads = []                     # every register's next value, loaded on enable

        def register(value, name):
            reg = Signal(value.shape(), name=name, reset_less=True)
            loads.append(reg.eq(value))
            return reg

        def at(index, stage):
            if (index, stage) not in signals:
                signals[(index, stage)] = register(at(index, stage - 1),
                                                   f"d{index}_{stage}")
            return signals[(index, stage)]

        payload = self.i.payload
        roms = {}                      # a lookup table's values -> its ROM (one read port a use)
        for index, leaf in enumerate(plan.leaves):
            if isinstance(leaf, InputLeaf):
                value = payload[leaf.element]
            elif isinstance(leaf, ConstLeaf):
                value = Const(leaf.value, shape_of(leaf.bounds))
            else:       # a lookup on the group's index bits: a read port of the ROM of its
                        # table, left to logic (its contents are one cell, not a net per bit,
                        # and one per distinct table: a fast netlist; Yosys maps each port)
                shape = shape_of(field_of(leaf.bounds.union(Bounds(0, 0))))
                code = Cat(*(payload[e] for e in leaf.members))
                value = Signal(shape, name=f"t{index}")
                key = (shape, tuple(leaf.values))
                if key not in roms:
                    roms[key] = MemoryInstance(
                        data=MemoryData(shape=shape, depth=len(leaf.values), init=leaf.values),
                        attrs={"rom_style": "logic"})
                    m.submodules[f"rom{index}"] = roms[key]
                roms[key].read_port(domain="comb", addr=code, data=value, en=Const(1),
                                    transparent_for=())
            signals[(index, 0)] = value
        first = len(plan.leaves)
        inline = plan.single_use_nodes()
        taken = plan.fused_operands
        for index, (a, b, shift, sign) in enumerate(plan.nodes, start=first):
            if index in taken:         # built inside the three-input adder of its reader
                continue
            stage = plan.stage[index]
            shape = shape_of(plan.bounds[index])
            if index in plan.fused:
                terms = [(at(value, stage), shift, sign)
                         for value, shift, sign in plan.fused_terms(index)]
                signals[(index, stage)] = ternary_sum(m, terms, shape, f"n{index}")
                continue
            left, right = at(a, stage), at(b, stage)
            right = right << shift if shift else right
            total = left + right if sign > 0 else left - right
            if index in inline:        # an expression, as wide as its bounds: no net of its own
                node = total[:shape.width].as_signed() if shape.signed else total[:shape.width]
            else:                      # a signal: an expression used twice would be emitted twice
                node = Signal(shape, name=f"n{index}")
                m.d.comb += node.eq(total)
            signals[(index, stage)] = node
        last = plan.stages - 1
        for o, term in enumerate(plan.outputs):
            out = Const(0, 1) if term is None else \
                register(at(term[0], last), f"value_{o}") if plan.sum_register else \
                at(term[0], last)
            m.d.comb += sink.payload[o].eq(out)
        if loads:
            with m.If(enable):
                m.d.sync += loads
        return m
