# SPDX-License-Identifier: MIT
"""The lowered design: what the hardware of a model built with given options *is*.

A :class:`Design` is made once by :func:`nomul.design.lower` and read by everything after it:
the gateware builds one component per stage plan, the estimator costs the plans, the
simulators drive its ports, and the build manifest is :meth:`Design.describe`.
"""

import math
from dataclasses import dataclass

from ..errors import OptionsError
from .plans import DeserializerPlan
from .ports import Field, Vector

__all__ = ["Design"]


@dataclass(frozen=True)
class Design:
    """A whole network's hardware: a stream of raw samples in, results out.

    ``stages``: ``((name, plan), ...)`` in stream order (the input quantizer, then one per
    weighted layer or pool; flatten layers need no hardware); a sample that arrives over
    several transfers is quantized lane by lane and its indices collected by a
    :class:`~.plans.DeserializerPlan` stage after the quantizer, or, where every element has
    thresholds of its own, its raw values collected first by ``deserializer`` (else None);
    ``layers``: per model layer, its manifest entry; ``options``: the
    :class:`~.options.BuildOptions` it was lowered with; ``shape``, ``raw``: the input tensor
    and one raw sample's field; ``output``: ``"argmax"``, ``"raw"`` or ``"thresholds"``;
    ``classes``: the argmax model's class count; ``baseline``: None, or which multiplier
    baseline this is; ``model_sha256``: the sha256 of the model file's bytes (what a build
    manifest records).

    ``latency``: cycles from a sample's last input transfer to its result with an idle
    pipeline (the sum of the stages'); ``ii``: cycles between samples at full rate (the slowest
    stage, or the transfers per sample).
    """

    name: str
    stages: tuple
    deserializer: DeserializerPlan | None
    layers: tuple
    options: object
    shape: tuple
    raw: Field
    output: str
    classes: int | None = None
    baseline: str | None = None
    model_sha256: str | None = None

    @property
    def named_stages(self):
        """``(name, plan)`` in stream order, the deserializer first when there is one (the
        names of the top's submodules in the emitted Verilog)."""
        head = (("deserializer", self.deserializer),) if self.deserializer else ()
        return head + tuple(self.stages)

    @property
    def elements(self):
        return math.prod(self.shape)

    @property
    def lanes(self):
        """Raw samples per input transfer (the first stage's input width)."""
        return self.named_stages[0][1].in_port.length

    @property
    def latency(self):
        return sum(plan.latency for _, plan in self.named_stages)

    @property
    def ii(self):
        return max(plan.ii for _, plan in self.named_stages)

    @property
    def vendor(self):
        """The FPGA family whose primitives the Verilog instantiates (``"xilinx"``: an
        unrolled layer with ``adders="ternary"``), or None: portable Verilog."""
        ternary = any(getattr(plan, "adders", "binary") == "ternary"
                      for _, plan in self.named_stages)
        return "xilinx" if ternary else None

    def check_family(self, family):
        """Refuse a target ``family`` the Verilog cannot be built for (:attr:`vendor`)."""
        if self.vendor not in (None, family):
            raise OptionsError(f"adders ternary instantiates Xilinx primitives (LUT6_2, "
                               f"CARRY4): the design is for family {self.vendor}, not "
                               f"{family}")

    @property
    def in_port(self):
        """The top's input payload: ``lanes`` raw samples."""
        return Vector(self.raw, self.lanes)

    @property
    def out_port(self):
        """The top's output payload: the last stage's."""
        return self.stages[-1][1].out_port

    def ports(self):
        """The top's stream ports as the manifest states them."""
        out = self.out_port
        if self.output == "argmax":
            output = {"kind": "argmax", "elements": 1, "bits": out.width,
                      "classes": self.classes}
        else:                   # raw accumulators, or threshold counts (unsigned indices)
            output = {"kind": self.output, "elements": out.length, "bits": out.element.width,
                      "signed": out.element.signed}
        return {
            "input": {"elements": self.elements, "bits": self.raw.width,
                      "signed": self.raw.signed, "lanes": self.lanes, "shape": list(self.shape),
                      "transfers_per_sample": -(-self.elements // self.lanes)},
            "output": output,
        }

    def describe(self):
        """The build manifest (JSON-ready): top name, ports, latency, ii, per-layer
        architecture, the options and the model file's hash."""
        return {"top": self.name, **self.ports(), "latency": self.latency, "ii": self.ii,
                "layers": [dict(layer) for layer in self.layers],
                "options": self.options.describe(), "model_sha256": self.model_sha256}
