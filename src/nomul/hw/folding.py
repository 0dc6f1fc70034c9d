# SPDX-License-Identifier: MIT
"""Automatic folding: per weighted layer the build of least estimated cost meeting a target II.

:func:`choose_folding` answers "the cheapest design that accepts a sample every ``target_ii``
cycles" (``--target-ii``). For every weighted layer it estimates each candidate build
(:func:`nomul.hw.estimate.estimate_stage`, analytical, milliseconds): unrolled (II 1), and
folded at every PE dividing the outputs x SIMD dividing the input groups, each with its product
table in logic and in block RAM where the layer allows both, its weight ROM as the size
decides (``auto``) and in block RAM where that differs; candidates slower than the target
are dropped. A design's II is its slowest stage's, and a
stage's estimate does not depend on how the other layers are built, so the cheapest candidate
of each layer is the cheapest design in LUT-equivalents (:func:`nomul.hw.cost.lut_equivalents`)
that meets the target: the choice is exact for the estimate, where FINN's ``SetFolding`` raises
SIMD, then PE, layer by layer until the layer is fast enough (:func:`greedy_folding` does that,
for comparison: ``bench/auto_folding.py``).

With a ``device`` (``up5k``, ``ecp5-25k``) the whole design, input quantizer included, must
also fit its LUTs, FFs, block RAMs and DSPs: then the combination of candidates of least
LUT-equivalents that fits is searched among each layer's candidates not dominated in every
resource (few per layer), each folded one also with a single input buffer (the same LUTs,
fewer flip-flops, a longer ready path: of equal cost the double one is taken, so the single
one only where the device's flip-flops need it), and a target no combination fits is a
one-line :class:`~nomul.errors.OptionsError` naming what the cheapest one lacks.
"""

import itertools
from dataclasses import dataclass, replace

from ..design import BuildOptions, LayerOptions, lower
from ..design.lower import weighted_plan
from ..errors import OptionsError
from . import families
from .cost import lut_equivalents
from .estimate import estimate_stage

__all__ = ["Candidate", "FoldingChoice", "choose_folding", "greedy_folding", "device_family",
           "target_ii_of"]

RESOURCES = ("luts", "ffs", "brams", "dsps")
MAX_COMBINATIONS = 200_000


@dataclass(frozen=True)
class Candidate:
    """One way to build one weighted layer, with its estimate."""

    position: int
    options: LayerOptions
    ii: int
    counts: tuple           # RESOURCES, in that order
    lut_equivalents: int

    def describe(self):
        o = self.options
        return {"layer": self.position, "arch": str(o.arch), "pe": o.pe, "simd": o.simd,
                "table_style": None if o.table_style is None else str(o.table_style),
                "weight_style": None if o.weight_style is None else str(o.weight_style),
                **({"input_buffer": str(o.input_buffer)} if o.input_buffer else {}),
                "ii": self.ii, "lut_equivalents": self.lut_equivalents,
                **dict(zip(RESOURCES, self.counts))}


@dataclass(frozen=True)
class FoldingChoice:
    """The chosen build of every weighted layer, and the options that build it."""

    options: BuildOptions
    layers: tuple           # Candidate per weighted layer, model order
    target_ii: int

    def describe(self):
        return {"target_ii": self.target_ii, "layers": [c.describe() for c in self.layers]}


def device_family(device):
    """The family whose place-and-route device is named ``device``; one line when none is."""
    for name, spec in families.FAMILIES.items():
        if spec.device is not None and spec.device.key == device:
            return name
    known = [spec.device.key for spec in families.FAMILIES.values() if spec.device]
    raise OptionsError(f"unknown device {device!r}; choose from {', '.join(known)}")


def target_ii_of(target_ii=None, throughput=None, clock_mhz=None):
    """The target II in cycles: given, or the most cycles per sample that still delivers
    ``throughput`` samples per second at ``clock_mhz``."""
    if throughput is None:
        if clock_mhz is not None:
            raise OptionsError("--clock-mhz goes with --target-throughput")
        return target_ii
    if target_ii is not None:
        raise OptionsError("give --target-ii or --target-throughput, not both")
    if clock_mhz is None:
        raise OptionsError("--target-throughput needs --clock-mhz (the clock it runs at)")
    if throughput <= 0 or clock_mhz <= 0:
        raise OptionsError("--target-throughput and --clock-mhz must be positive")
    cycles = int(clock_mhz * 1e6 // throughput)
    if cycles < 1:
        raise OptionsError(f"{throughput:g} samples/s is more than one sample a cycle at "
                           f"{clock_mhz:g} MHz")
    return cycles


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _estimate(layer, in_shape, options, position, family):
    """The :class:`Candidate` of ``layer`` built with ``options``, or None when the layer's
    values do not allow it (e.g. a table too wide for block RAM)."""
    try:
        plan = weighted_plan(layer, in_shape, options, position=position)
    except OptionsError:
        return None
    stage = estimate_stage(plan, family)
    counts = {key: int(stage[key]) for key in ("luts", "ffs", "brams", "bram_bits", "dsps",
                                               "gates")}
    return Candidate(position, options, int(plan.ii), tuple(counts[k] for k in RESOURCES),
                     lut_equivalents(counts, family, 0))


def layer_candidates(model, family, target_ii):
    """Per weighted layer (model order), every candidate build with ``ii <= target_ii``."""
    per_layer = []
    for position, layer in enumerate(model.layers):
        if not hasattr(layer, "weight_index"):
            continue
        in_shape = model.shapes[position]
        outputs, groups = layer.weight_index.shape
        builds = [LayerOptions(arch="unrolled")]
        builds += [LayerOptions(arch="folded", pe=pe, simd=simd, table_style=style,
                                weight_style=weights)
                   for pe in _divisors(outputs) for simd in _divisors(groups)
                   if (outputs // pe) * (groups // simd) <= target_ii
                   for style in ("logic", "block") for weights in (None, "block")]
        found = [c for c in (_estimate(layer, in_shape, o, position, family) for o in builds)
                 if c is not None and c.ii <= target_ii]
        auto = {c.options: c.counts for c in found if c.options.weight_style is None}
        found = [c for c in found if c.options.weight_style != "block"
                 or auto.get(replace(c.options, weight_style=None)) != c.counts]
        per_layer.append(sorted(found, key=_rank))
    return per_layer


def _rank(candidate):
    """Cheapest first; then the faster, then the less parallel, then the double input buffer
    (a single one saves flip-flops, which LUT-equivalents do not count, at a longer ready
    path: it is a candidate only where a device's flip-flops are counted)."""
    o = candidate.options
    return (candidate.lut_equivalents, candidate.ii, (o.pe or 1) * (o.simd or 1), str(o.arch),
            o.input_buffer == "single")


def _with_single_buffers(model, candidates, family):
    """``candidates`` (one layer's, ranked) and, after each folded one with more than one
    cycle a vector, the same build with a single input buffer (the same LUTs, fewer
    flip-flops)."""
    extended = []
    for candidate in candidates:
        extended.append(candidate)
        if candidate.options.arch == "folded" and candidate.ii > 1:
            position = candidate.position
            single = _estimate(model.layers[position], model.shapes[position],
                               replace(candidate.options, input_buffer="single"), position,
                               family)
            if single is not None and single.counts != candidate.counts:
                extended.append(single)
    return extended


def _not_dominated(candidates):
    """The candidates no other one beats in every resource."""
    kept = []
    for c in candidates:
        if not any(all(a <= b for a, b in zip(k.counts, c.counts)) for k in kept):
            kept.append(c)
    return kept


def _options(base, chosen):
    base = base or BuildOptions()
    return replace(base, default=LayerOptions(),
                   layers=tuple((c.position, c.options) for c in chosen))


def choose_folding(model, target_ii, family="ice40", *, device=None, base=None):
    """The :class:`FoldingChoice` of least estimated LUT-equivalents with II at most
    ``target_ii`` (see the module); ``base``: build options whose top-level fields (input
    lanes, name) are kept."""
    if isinstance(target_ii, bool) or not isinstance(target_ii, int) or target_ii < 1:
        raise OptionsError(f"target II must be a positive number of cycles, not {target_ii!r}")
    if device is not None and (part_of := device_family(device)) != family:
        raise OptionsError(f"device {device} is an {part_of} part, not {family}")
    per_layer = layer_candidates(model, family, target_ii)
    chosen = [candidates[0] for candidates in per_layer]
    if device is not None:
        chosen = _fitting(model, per_layer, family, device, base, target_ii)
    return FoldingChoice(_options(base, chosen), tuple(chosen), target_ii)


def _fitting(model, per_layer, family, device, base, target_ii):
    """The combination of least LUT-equivalents whose whole design fits ``device``."""
    capacity = families.family(family).device.capacity
    fixed = _fixed_counts(model, per_layer, family, base)
    pruned = [_not_dominated(_with_single_buffers(model, _not_dominated(candidates), family))
              for candidates in per_layer]
    total = 1
    for candidates in pruned:
        total *= len(candidates)
    if total > MAX_COMBINATIONS:          # keep the cheapest few of each layer
        pruned = [candidates[:max(2, int(MAX_COMBINATIONS ** (1 / len(pruned))))]
                  for candidates in pruned]
    best, best_cost = None, None
    for combo in itertools.product(*pruned):
        used = [f + sum(c.counts[i] for c in combo) for i, f in enumerate(fixed)]
        if any(u > capacity[key] for u, key in zip(used, RESOURCES)):
            continue
        cost = sum(c.lut_equivalents for c in combo)
        if best_cost is None or cost < best_cost:
            best, best_cost = combo, cost
    if best is None:
        cheapest = [candidates[0] for candidates in per_layer]
        used = [f + sum(c.counts[i] for c in cheapest) for i, f in enumerate(fixed)]
        short = ", ".join(f"{u} {key} of {capacity[key]}" for u, key in zip(used, RESOURCES)
                          if u > capacity[key])
        raise OptionsError(f"no folding with II <= {target_ii} fits the {device}: the "
                           f"cheapest needs {short}")
    return list(best)


def _fixed_counts(model, per_layer, family, base):
    """What the stages that are not weighted layers cost (quantizer, pools, deserializer),
    from the design of each layer's cheapest candidate."""
    design = lower(model, _options(base, [c[0] for c in per_layer]))
    weighted = {f"layer_{c[0].position}_{model.layers[c[0].position].kind}"
                for c in per_layer}
    fixed = [0] * len(RESOURCES)
    for name, plan in design.named_stages:
        if name in weighted:
            continue
        stage = estimate_stage(plan, family)
        fixed = [f + int(stage[key]) for f, key in zip(fixed, RESOURCES)]
    return fixed


def greedy_folding(model, target_ii, family="ice40"):
    """FINN's ``SetFolding`` for comparison: per layer, SIMD raised through the divisors of
    the input groups until the layer's II meets the target, then PE through the divisors of
    the outputs (table style ``auto``). Returns the :class:`FoldingChoice`."""
    chosen = []
    for position, layer in enumerate(model.layers):
        if not hasattr(layer, "weight_index"):
            continue
        outputs, groups = layer.weight_index.shape
        pe, simd = 1, 1
        for simd in _divisors(groups):
            if (outputs // pe) * (groups // simd) <= target_ii:
                break
        for pe in _divisors(outputs):
            if (outputs // pe) * (groups // simd) <= target_ii:
                break
        candidate = _estimate(layer, model.shapes[position],
                              LayerOptions(arch="folded", pe=pe, simd=simd), position, family)
        if candidate is None or candidate.ii > target_ii:
            raise OptionsError(f"layer {position}: the greedy folding cannot meet II "
                               f"{target_ii}")
        chosen.append(candidate)
    return FoldingChoice(_options(None, chosen), tuple(chosen), target_ii)
