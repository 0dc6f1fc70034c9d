# SPDX-License-Identifier: MIT
"""Implementation choices, kept apart from the model: architecture, folding, pipelining.

The same integer model can be built many ways; :class:`BuildOptions` says how, with per-layer
overrides. Validation against a particular model happens in :mod:`nomul.gateware.compile`.
"""

from dataclasses import dataclass, field

from ..errors import OptionsError

__all__ = ["ARCHITECTURES", "TABLE_STYLES", "THRESHOLD_METHODS", "LayerOptions", "BuildOptions"]

ARCHITECTURES = ("unrolled", "folded")
TABLE_STYLES = ("auto", "logic", "block")
THRESHOLD_METHODS = ("parallel", "search")


@dataclass(frozen=True)
class LayerOptions:
    """How one weighted layer is built.

    ``arch``: ``unrolled`` (weights as constants, one inference per clock) or ``folded``
    (PE x SIMD engine, weights in ROM). ``pe`` outputs and ``simd`` input groups per cycle
    (folded only). ``table_style``: product tables as LUT logic or block RAM (``auto`` decides
    by size). ``register_every``: adder-tree levels between pipeline registers.
    ``threshold_method``: parallel comparators or a pipelined binary search.
    ``group_inputs``: unrolled dense layers with scalar codebooks (d = 1) look up ``g``
    consecutive inputs together in one table of ``A**g`` rows (e.g. 3 inputs x 2 bits = one
    6-input LUT), so each output's adder tree has ``g`` times fewer terms.
    """

    arch: str = "unrolled"
    pe: int = 1
    simd: int = 1
    table_style: str = "auto"
    register_every: int = 1
    threshold_method: str = "parallel"
    group_inputs: int = 1

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise OptionsError(f"unknown architecture {self.arch!r}; choose from "
                               f"{', '.join(ARCHITECTURES)}")
        for name in ("pe", "simd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OptionsError(f"--{name} must be a positive integer, not {value!r}")
        if self.table_style not in TABLE_STYLES:
            raise OptionsError(f"unknown table style {self.table_style!r}; choose from "
                               f"{', '.join(TABLE_STYLES)}")
        if not isinstance(self.register_every, int) or self.register_every < 0:
            raise OptionsError(f"register_every must be >= 0, not {self.register_every!r}")
        if isinstance(self.group_inputs, bool) or not isinstance(self.group_inputs, int) \
                or self.group_inputs < 1:
            raise OptionsError(f"--group-inputs must be a positive integer, not "
                               f"{self.group_inputs!r}")
        if self.threshold_method not in THRESHOLD_METHODS:
            raise OptionsError(f"unknown threshold method {self.threshold_method!r}; choose "
                               f"from {', '.join(THRESHOLD_METHODS)}")


@dataclass(frozen=True)
class BuildOptions:
    """Options for a whole network: defaults for every layer plus per-layer overrides.

    ``layers`` maps a layer position (as in the model) to its :class:`LayerOptions`;
    ``input_lanes`` raw elements per input transfer (``None``: the whole sample at once).
    """

    default: LayerOptions = field(default_factory=LayerOptions)
    layers: tuple = ()                 # ((position, LayerOptions), ...)
    input_lanes: int | None = None
    name: str = "nomul_top"

    def __post_init__(self):
        if self.input_lanes is not None and (not isinstance(self.input_lanes, int)
                                             or self.input_lanes < 1):
            raise OptionsError(f"--input-lanes must be a positive integer, not "
                               f"{self.input_lanes!r}")
        if not self.name.isidentifier():
            raise OptionsError(f"--name must be a Verilog identifier, not {self.name!r}")

    def for_layer(self, position):
        return dict(self.layers).get(position, self.default)

    def describe(self):
        """JSON-ready summary (for the build manifest)."""
        return {"default": vars(self.default),
                "layers": {str(p): vars(o) for p, o in self.layers},
                "input_lanes": self.input_lanes, "name": self.name}

    @classmethod
    def from_description(cls, description):
        """The inverse of :meth:`describe` (a build manifest's ``options``)."""
        try:
            return cls(default=LayerOptions(**description["default"]),
                       layers=tuple((int(p), LayerOptions(**o))
                                    for p, o in sorted(description["layers"].items(),
                                                       key=lambda item: int(item[0]))),
                       input_lanes=description["input_lanes"], name=description["name"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise OptionsError(f"unreadable build options in the manifest ({error})") from None
