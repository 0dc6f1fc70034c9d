# SPDX-License-Identifier: MIT
"""Implementation choices, kept apart from the model: architecture, folding, pipelining.

The same integer model can be built many ways; :class:`BuildOptions` says how, with per-layer
overrides. A field left at ``None`` is *not given* and takes its default (:data:`DEFAULTS`)
where it concerns a layer; :func:`nomul.design.lower` refuses a given option that concerns no
layer it is applied to (``pe`` on an unrolled layer, ``group_inputs`` on a folded one), instead
of ignoring it. Option values are enums (:class:`Arch`, :class:`TableStyle`,
:class:`WeightStyle`, :class:`InputBuffer`, :class:`ThresholdMethod`, :class:`AdderStyle`,
:class:`SumRegister`); their plain strings are accepted too.
"""

from dataclasses import dataclass, field, fields, replace
from enum import StrEnum

from ..errors import OptionsError

__all__ = ["Arch", "TableStyle", "WeightStyle", "InputBuffer", "ThresholdMethod", "AdderStyle",
           "SumRegister", "DEFAULTS", "UNROLLED_REGISTER_EVERY", "SCOPE", "LayerOptions",
           "BuildOptions", "option_applies"]


class Arch(StrEnum):
    """How a weighted layer is built: weights as constants, one inference per clock
    (``unrolled``), or a PE x SIMD engine reading its weights from a ROM (``folded``)."""

    UNROLLED = "unrolled"
    FOLDED = "folded"


class TableStyle(StrEnum):
    """Where a folded layer keeps its product table: chosen by size (``auto``), LUT logic
    (``logic``) or block RAM (``block``)."""

    AUTO = "auto"
    LOGIC = "logic"
    BLOCK = "block"


class WeightStyle(StrEnum):
    """Where a folded layer keeps its weight ROM: ``auto`` (one 64-word chunk or fewer, or
    1024 bits or more: one memory that synthesis maps; in between: in logic, three registered
    steps of 16-word pieces, 64-word chunks, then the chunk), ``logic`` (chunks in logic at
    any size) or ``block`` (block RAM)."""

    AUTO = "auto"
    LOGIC = "logic"
    BLOCK = "block"


class InputBuffer(StrEnum):
    """How a folded layer buffers its input vector: a next-vector buffer in front of the
    working vector, so a vector is taken while the engine is busy (``double``, the default),
    or the working vector alone, loaded when the engine starts a vector (``single``: the
    upstream holds its result in its output register until then, so the II is the same; one
    vector of flip-flops less, and a ready register whose logic reads the stall's next value,
    a longer path on the iCE40 and ECP5, ``bench/RESULTS.md``). With one cycle per vector
    the buffer is always double."""

    DOUBLE = "double"
    SINGLE = "single"


class AdderStyle(StrEnum):
    """How an unrolled layer's adder graph is built: two-input adders in portable Verilog
    (``binary``), or, where a node's operand is a node read by it alone, the two fused into one
    three-input adder of Xilinx primitives (``ternary``: a ``LUT6_2`` and a ``CARRY4`` bit per
    result bit, where two two-input adders take a LUT per bit each; the Verilog is then for
    Xilinx 7-series and later only)."""

    BINARY = "binary"
    TERNARY = "ternary"


class SumRegister(StrEnum):
    """Whether an unrolled layer with an activation (thresholds or argmax) registers its adder
    graph's outputs before the activation (``on``, the default) or lets the activation read
    them directly (``off``: one register of each output's sum width less and one cycle less
    latency; the adder graph's last stage and the activation then share a clock period)."""

    ON = "on"
    OFF = "off"


class ThresholdMethod(StrEnum):
    """How an unrolled layer counts thresholds: parallel comparators (``parallel``), a
    pipelined binary search (``search``), a shift and clamp for thresholds evenly spaced by a
    power of two (``clamp``), or the clamp where it applies and costs less (``auto``)."""

    AUTO = "auto"
    PARALLEL = "parallel"
    SEARCH = "search"
    CLAMP = "clamp"


DEFAULTS = {"arch": Arch.UNROLLED, "pe": 1, "simd": 1, "table_style": TableStyle.AUTO,
            "register_every": 1, "threshold_method": ThresholdMethod.AUTO,
            "group_inputs": "auto", "weight_style": WeightStyle.AUTO,
            "input_buffer": InputBuffer.DOUBLE, "adders": AdderStyle.BINARY,
            "sum_register": SumRegister.ON}
# an unrolled layer's adder graph is registered every 3 levels unless told otherwise: every
# level costs it 3x the flip-flops (values shared across outputs are carried), every 3 levels
# half its LUTs in flip-flops on the shared digits model; folded trees keep DEFAULTS' 1
UNROLLED_REGISTER_EVERY = 3
# what each layer option concerns (the error when it concerns none of the layers it is given for)
SCOPE = {
    "arch": "weighted layers",
    "register_every": "weighted layers",
    "pe": "folded layers (arch folded)",
    "simd": "folded layers (arch folded)",
    "table_style": "folded layers (arch folded)",
    "weight_style": "folded layers (arch folded)",
    "input_buffer": "folded layers (arch folded)",
    "threshold_method": "unrolled layers with thresholds",
    "group_inputs": "unrolled dense layers with scalar codebooks (group 1)",
    "adders": "unrolled layers (arch unrolled)",
    "sum_register": "unrolled layers with an activation (thresholds or argmax)",
}
_ENUMS = {"arch": Arch, "table_style": TableStyle, "threshold_method": ThresholdMethod,
          "weight_style": WeightStyle, "input_buffer": InputBuffer, "adders": AdderStyle,
          "sum_register": SumRegister}


def option_applies(name, layer, arch):
    """Whether the layer option ``name`` changes how ``layer`` (a weighted layer of the model)
    is built as ``arch``."""
    if name in ("pe", "simd", "table_style", "weight_style", "input_buffer"):
        return arch == Arch.FOLDED
    if name == "threshold_method":
        return arch == Arch.UNROLLED and layer.activation.kind == "thresholds"
    if name == "group_inputs":
        return arch == Arch.UNROLLED and layer.kind == "dense" and layer.group == 1
    if name == "adders":
        return arch == Arch.UNROLLED
    if name == "sum_register":
        return arch == Arch.UNROLLED and layer.activation.kind != "raw"
    return True


def _positive(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionsError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value


@dataclass(frozen=True)
class LayerOptions:
    """How one weighted layer is built; ``None`` means not given (:data:`DEFAULTS`).

    ``arch``: :class:`Arch`. ``pe`` outputs and ``simd`` input groups per cycle (folded).
    ``table_style``: :class:`TableStyle` (folded). ``register_every``: adder levels between
    pipeline registers (0: only at the output; default 1 folded,
    :data:`UNROLLED_REGISTER_EVERY` unrolled). ``threshold_method``: :class:`ThresholdMethod`
    (unrolled layers with thresholds). ``group_inputs``: unrolled dense layers with scalar
    codebooks look up ``g`` consecutive inputs together in one table (3 inputs of 2 bits = one
    6-input LUT; the last group shorter when ``g`` does not divide the inputs); ``"auto"``
    (default) takes the form whose adder graph is smallest (see :mod:`.unrolled`).
    ``weight_style``: :class:`WeightStyle` (folded). ``input_buffer``: :class:`InputBuffer`
    (folded). ``adders``: :class:`AdderStyle` (unrolled). ``sum_register``:
    :class:`SumRegister` (unrolled, with an activation).
    """

    arch: Arch | None = None
    pe: int | None = None
    simd: int | None = None
    table_style: TableStyle | None = None
    register_every: int | None = None
    threshold_method: ThresholdMethod | None = None
    group_inputs: int | None = None
    weight_style: WeightStyle | None = None
    input_buffer: InputBuffer | None = None
    adders: AdderStyle | None = None
    sum_register: SumRegister | None = None

    def __post_init__(self):
        for name, kind in _ENUMS.items():
            value = getattr(self, name)
            if value is not None:
                try:
                    object.__setattr__(self, name, kind(value))
                except ValueError:
                    raise OptionsError(f"{name}: unknown value {value!r}; choose from "
                                       f"{', '.join(kind)}") from None
        for name in ("pe", "simd"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), name)
        if self.group_inputs not in (None, "auto"):
            _positive(self.group_inputs, "group_inputs")
        if self.register_every is not None:
            _positive(self.register_every, "register_every", minimum=0)

    @property
    def given(self):
        """The names of the options set (not None), in field order."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)

    def resolved(self):
        """These options with every one not given at its default."""
        resolved = replace(self, **{name: DEFAULTS[name] for name in DEFAULTS
                                    if getattr(self, name) is None})
        if self.register_every is None and resolved.arch == Arch.UNROLLED:
            resolved = replace(resolved, register_every=UNROLLED_REGISTER_EVERY)
        return resolved

    def describe(self):
        """JSON-ready: the given options (enums as their strings)."""
        return {name: str(value) if name in _ENUMS else value
                for name, value in vars(self).items() if value is not None}


@dataclass(frozen=True)
class BuildOptions:
    """Options for a whole network: defaults for every layer plus per-layer overrides.

    ``default`` applies to every weighted layer without an override: each option given there
    goes to the layers it concerns, and must concern at least one. ``layers`` maps a layer's
    position in the model to its own :class:`LayerOptions` (every option given there must
    concern that layer). ``input_lanes``: raw elements per input transfer (``None``: the whole
    sample at once). ``name``: the top module's name. ``input_register``: whether the input
    quantizer registers its indices (True, the default) or passes them to the first layer
    combinationally (False: the design's input port then reaches the first layer's logic, as
    it does anyway for a first stage with an input register of its own, a folded layer's).
    """

    default: LayerOptions = field(default_factory=LayerOptions)
    layers: tuple = ()                 # ((position, LayerOptions), ...)
    input_lanes: int | None = None
    name: str = "nomul_top"
    input_register: bool = True

    def __post_init__(self):
        if not isinstance(self.default, LayerOptions):
            raise OptionsError(f"default must be LayerOptions, not {self.default!r}")
        layers = tuple((int(p), o) for p, o in self.layers)
        if any(not isinstance(o, LayerOptions) for _, o in layers):
            raise OptionsError("layers must map positions to LayerOptions")
        object.__setattr__(self, "layers", layers)
        if self.input_lanes is not None:
            _positive(self.input_lanes, "input_lanes")
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise OptionsError(f"name must be a Verilog identifier, not {self.name!r}")
        if not isinstance(self.input_register, bool):
            raise OptionsError(f"input_register must be True or False, not "
                               f"{self.input_register!r}")

    def for_layer(self, position):
        """The options given for the layer at ``position`` (its override, or the default)."""
        return dict(self.layers).get(position, self.default)

    def describe(self):
        """JSON-ready summary (the build manifest's ``options``)."""
        return {"default": self.default.describe(),
                "layers": {str(p): o.describe() for p, o in self.layers},
                "input_lanes": self.input_lanes, "name": self.name,
                **({} if self.input_register else {"input_register": False})}

    @classmethod
    def from_description(cls, description):
        """The inverse of :meth:`describe` (a build manifest's ``options``)."""
        try:
            return cls(default=LayerOptions(**description["default"]),
                       layers=tuple((int(p), LayerOptions(**o))
                                    for p, o in sorted(description["layers"].items(),
                                                       key=lambda item: int(item[0]))),
                       input_lanes=description["input_lanes"], name=description["name"],
                       input_register=description.get("input_register", True))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise OptionsError(f"unreadable build options in the manifest ({error})") from None
