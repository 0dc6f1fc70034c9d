# SPDX-License-Identifier: MIT
"""A new weightless layer kind needs its own three definitions and nothing else: the spec
(:mod:`nomul.models.kinds`), its hardware plan and lowering (:mod:`nomul.design.kinds`) and a
component that names its plan type. Here a min-pool, defined in this file only, goes through
the model file, the reference, lowering, the estimate and Amaranth's simulator."""

import math
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, Mux, Signal, unsigned

import nomul
from nomul.design.cost import new_features
from nomul.design.kinds import costs, lowers
from nomul.design.kinds.maxpool import PoolPlan
from nomul.gateware.pipeline import PlanComponent, register_stage
from nomul.models.kinds import register
from nomul.models.kinds.maxpool import MaxPool, windows
from nomul.models.spec import Activation, Dense, Flatten, InputSpec, IntegerModel
from nomul.numeric import index_width

# -- 1. the kind: spec, file fields, reference ----------------------------------------------

@register
@dataclass(frozen=True, eq=False)
class MinPool(MaxPool):
    kind = "minpool"

    def reference(self, indices):
        view = windows(np.asarray(indices, dtype=np.int64), self.kernel, self.stride)
        return view.min(axis=tuple(range(-len(self.kernel), 0)))


# -- 2. its hardware plan, lowering and cost ---------------------------------------------------

@dataclass(frozen=True)
class MinPoolPlan(PoolPlan):
    pass


@lowers(MinPool)
def lower_minpool(layer, in_shape, levels, position):
    return MinPoolPlan(in_shape, layer.kernel, layer.stride, index_width(levels),
                       describe_as=(("index", position), ("kind", layer.kind)))


@costs(MinPoolPlan)
def minpool_features(plan, lut_inputs):
    f = new_features()
    outputs, taps = math.prod(plan.out_shape), math.prod(plan.kernel)
    f["compare"] += outputs * (taps - 1) * plan.index_width
    f["mux"] += outputs * (taps - 1) * plan.index_width
    f["ff"] += outputs * plan.index_width + 1
    return f, []


# -- 3. its component ---------------------------------------------------------------------------

class MinPoolUnit(PlanComponent):
    plan_type = MinPoolPlan

    def elaborate(self, platform):
        m = Module()
        enable = register_stage(m, self.i, self.o)
        channels, length = self.plan.shape
        (k,), (s,) = self.plan.kernel, self.plan.stride
        for c in range(channels):
            for p in range(self.plan.out_shape[1]):
                taps = [self.i.payload[c * length + p * s + t] for t in range(k)]
                low = taps[0]
                for tap in taps[1:]:
                    low = Mux(tap < low, tap, low)
                best = Signal(unsigned(self.plan.index_width), name=f"min_{c}_{p}")
                m.d.comb += best.eq(low)
                with m.If(enable):
                    m.d.sync += self.o.payload[c * self.plan.out_shape[1] + p].eq(best)
        return m


# -- the whole flow ---------------------------------------------------------------------------

def _model():
    rng = np.random.default_rng(5)
    dense = Dense(in_levels=4, group=1, table=rng.integers(-8, 9, size=(4, 3)),
                  weight_index=rng.integers(0, 3, size=(3, 2 * 3)), bias=np.zeros(3, int),
                  activation=Activation("argmax"))
    return IntegerModel(input=InputSpec(shape=(2, 6), raw_min=0, raw_max=3),
                        layers=(MinPool(kernel=(2,)), Flatten(), dense))


def test_a_kind_defined_in_three_places_goes_through_the_whole_flow(tmp_path):
    model = _model()
    path = nomul.save(model, tmp_path / "m.npz")
    again = nomul.load(path)
    assert isinstance(again.layers[0], MinPool)
    raw = np.random.default_rng(1).integers(0, 4, size=(20, 2, 6))
    expected = nomul.reference(again, raw)
    pooled = raw.reshape(20, 2, 3, 2).min(axis=3).reshape(20, -1)
    table, index = model.layers[2].table, model.layers[2].weight_index
    by_hand = np.argmax([[sum(table[x[g], index[o, g]] for g in range(6)) for o in range(3)]
                         for x in pooled], axis=1)
    assert expected.tolist() == by_hand.tolist()

    design = nomul.lower(again)
    assert [name for name, _ in design.stages] == ["quantizer", "layer_0_minpool",
                                                   "layer_2_dense"]
    cost = nomul.estimate(design, "ice40")
    assert cost["stages"][1]["ffs"] > 0
    run = nomul.simulate(design, raw, simulator="amaranth", stall=0.2)
    assert run.outputs == expected.tolist()
