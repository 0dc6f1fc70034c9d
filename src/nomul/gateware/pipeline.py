# SPDX-License-Identifier: MIT
"""Shared pipeline primitives: the stall-all handshake, the reduction tree, plan shapes.

Every streaming stage in nomul moves data on a clock edge where ``valid`` and ``ready`` are
both high, and stalls as a whole: its registers load only while its output register is empty
or being taken (:func:`stage_enable`, the one spelling of that rule). Every tree (adder trees,
argmax trees, the folded engine's lane trees) is built by :func:`reduce_trees` in the shape
:func:`nomul.design.trees.tree_levels` plans.
"""

from amaranth.hdl import Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..design.ports import Field, Vector

__all__ = ["shape_of", "layout_of", "COMPONENTS", "PlanComponent", "stage_enable", "register_stage",
           "ValidChain", "narrowed", "tree_inputs", "reduce_trees"]


def shape_of(item):
    """The Amaranth shape of a :class:`~nomul.design.ports.Field` (or of the field holding a
    :class:`~nomul.numeric.Bounds`)."""
    if not isinstance(item, Field):
        item = Field(item.width, item.signed)
    return signed(item.width) if item.signed else unsigned(item.width)


def layout_of(port):
    """The Amaranth payload shape of a plan's port: a field's shape or an ``ArrayLayout``."""
    if isinstance(port, Vector):
        return data.ArrayLayout(shape_of(port.element), port.length)
    return shape_of(port)


# plan class -> the component built from it (every PlanComponent subclass registers itself)
COMPONENTS = {}


class PlanComponent(wiring.Component):
    """A streaming component built from one plan (a class of :mod:`nomul.design`): its ``i``
    and ``o`` streams carry the plan's ``in_port`` and ``out_port`` payloads, and its
    ``latency`` and ``ii`` are the plan's. Subclasses name their ``plan_type``, which
    registers them in :data:`COMPONENTS`."""

    plan_type = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.plan_type is not None:
            COMPONENTS[cls.plan_type] = cls

    def __init__(self, plan):
        if not isinstance(plan, self.plan_type):
            raise TypeError(f"plan must be a {self.plan_type.__name__}, not {plan!r}")
        self.plan = plan
        super().__init__({
            "i": In(stream.Signature(layout_of(plan.in_port))),
            "o": Out(stream.Signature(layout_of(plan.out_port))),
        })

    @property
    def latency(self):
        return self.plan.latency

    @property
    def ii(self):
        return self.plan.ii


def stage_enable(m, i, o, *, name=None):
    """The stall-all rule: a stage loads while its output register is empty or being taken
    (``~o.valid | o.ready``), and takes its input then. Returns the enable: an expression, or a
    signal named ``name``."""
    rule = ~o.valid | o.ready
    if name is None:
        enable = rule
        m.d.comb += i.ready.eq(enable)
    else:
        enable = Signal(name=name)
        m.d.comb += [enable.eq(rule), i.ready.eq(enable)]
    return enable


def register_stage(m, i, o):
    """One pipeline register between ``i`` and ``o`` (:func:`stage_enable`), ``o.valid``
    loaded from ``i.valid``. Returns the enable under which the caller loads ``o.payload``."""
    enable = stage_enable(m, i, o)
    with m.If(enable):
        m.d.sync += o.valid.eq(i.valid)
    return enable


class ValidChain:
    """The valid bits of a pipeline of ``latency`` registers under one ``enable``: each
    :meth:`advance` adds a register (``valid_<n>``, the last one ``o.valid``)."""

    def __init__(self, m, enable, i, o, latency):
        self._m, self._enable, self._o, self._latency = m, enable, o, latency
        self.valid, self.stage = i.valid, 0

    def advance(self, level=None):
        self.stage += 1
        reg = self._o.valid if self.stage == self._latency else \
            Signal(name=f"valid_{self.stage}")
        with self._m.If(self._enable):
            self._m.d.sync += reg.eq(self.valid)
        self.valid = reg


def narrowed(m, payload, bounds, name):
    """Each element of a vector ``payload`` in a signal ``<name>_<k>`` just wide enough for its
    own proven ``bounds[k]`` (exact: every value lies in its bounds)."""
    leaves = []
    for k, b in enumerate(bounds):
        leaf = Signal(shape_of(b), name=f"{name}_{k}")
        m.d.comb += leaf.eq(payload[k])
        leaves.append(leaf)
    return leaves


def tree_inputs(component, m, bounds, name):
    """What a pipelined tree component starts from: its stall-all ``enable`` (a signal named
    ``enable``), its input elements narrowed to their ``bounds`` (:func:`narrowed`) and the
    :class:`ValidChain` of its ``plan.latency`` registers."""
    enable = stage_enable(m, component.i, component.o, name="enable")
    leaves = narrowed(m, component.i.payload, bounds, name)
    return enable, leaves, ValidChain(m, enable, component.i, component.o,
                                      component.plan.latency)


def reduce_trees(forest, depth, *, combine, carry, register, registered, after=None):
    """Reduce each list of leaves in ``forest`` to one root, the trees in lockstep.

    Level by level (1 to ``depth``), each tree in turn, adjacent nodes ``j, j+1`` become
    ``combine(left, right, level, j // 2, tree)`` and an odd last node
    ``carry(node, level, j // 2, tree)``; on a level where ``registered(level)``, every new
    node passes ``register(node, level, j // 2, tree)`` and ``after(level)`` runs once the
    level is done (to advance the valid or tag pipeline). Returns the roots.
    """
    forest = [list(leaves) for leaves in forest]
    for level in range(1, depth + 1):
        stage = registered(level)
        for tree, nodes in enumerate(forest):
            upper = []
            for j in range(0, len(nodes), 2):
                node = combine(nodes[j], nodes[j + 1], level, j // 2, tree) \
                    if j + 1 < len(nodes) else carry(nodes[j], level, j // 2, tree)
                upper.append(register(node, level, j // 2, tree) if stage else node)
            forest[tree] = upper
        if stage and after is not None:
            after(level)
    return [nodes[0] for nodes in forest]
