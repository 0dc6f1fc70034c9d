# SPDX-License-Identifier: MIT
"""Analytical cost model: LUTs, FFs, carry cells and block RAMs of a design, without synthesis.

The estimate costs a lowered :class:`~nomul.design.Design` stage by stage: each stage plan's
cost features (:func:`nomul.design.cost.features`) become cells through a few coefficients per
family (:func:`cells_from_features`), fitted to Yosys runs of single layers and quantizers and
checked on held-out ones (``nomul calibrate``, :mod:`nomul.hw.calibrate`; the check's figures
are in ``bench/RESULTS.md`` and in :func:`fitted`). Memories become block RAM or logic as
Yosys's ``memory_libmap`` would choose (:func:`map_memory`: the cheapest of the family's RAM
cells at their library costs, against logic at one LUT's worth per ROM bit); their block
counts are exact arithmetic, not fitted. A multiplication (the multiplier baselines) goes to a
DSP where the family's flow puts it, otherwise it is counted as adders. Everything
family-specific comes from :mod:`nomul.hw.families`. An estimate takes milliseconds per layer;
no component is built.
"""

import math

from ..design.cost import FEATURES, features, memory_logic
from . import families

__all__ = ["FEATURES", "fitted", "map_memory", "mapped_features", "estimate_stage",
           "estimate_design", "cells_from_features", "COUNT_KEYS"]

COUNT_KEYS = ("luts", "ffs", "carry", "brams", "bram_bits", "dsps", "gates", "multipliers")


def fitted():
    """``{"coefficients": {family: {count: {feature: weight}}}, "check": {family: figures}}``
    over every family, as the calibration wrote them
    (:meth:`~nomul.hw.families.Family.coefficients`, :meth:`~nomul.hw.families.Family.check`)."""
    return {"coefficients": {name: spec.coefficients()
                             for name, spec in families.FAMILIES.items()},
            "check": {name: spec.check() for name, spec in families.FAMILIES.items()}}


def _block_cost(memory, cell, spec):
    """``(cells, cost, bits)`` of ``memory`` in block-RAM cell type ``cell``."""
    name, cost, ports, modes = cell
    copies = math.ceil(memory.read_ports / ports)
    # a mode d x w also serves as (d*j) x (w/j) with a read mux (Yosys's wide-port emulation)
    blocks = min(math.ceil(memory.depth / (d * j)) * math.ceil(memory.width * j / w)
                 for d, w in modes for j in (1 << e for e in range(w.bit_length()))
                 if w % j == 0)
    return blocks * copies, blocks * copies * cost, blocks * copies * spec.block_ram_bits(name)


def _mapping(memory, family):
    """``(kind, cells, bits)``: :func:`map_memory`'s choice and the chosen block RAMs'
    capacity in bits (0 in logic)."""
    spec = families.family(family)
    blocks = [_block_cost(memory, cell, spec) for cell in spec.block_rams]
    best_block = min(blocks, key=lambda b: b[1]) if blocks else None
    if memory.style == "logic" or best_block is None:
        return "logic", 0, 0
    logic_cost = memory.depth * memory.width * memory.read_ports \
        * spec.logic_cost_per_rom_bit
    if memory.style == "block" or best_block[1] < logic_cost:
        return "block", best_block[0], best_block[2]
    return "logic", 0, 0


def map_memory(memory, family):
    """``(kind, cells)``: ``("block", n)`` block RAMs or ``("logic", 0)``, the cheaper as
    Yosys's ``memory_libmap`` rates them (``style`` forces block or logic; the gate-level
    family has no block RAM, so everything is logic there, as Yosys's generic flow does)."""
    return _mapping(memory, family)[:2]


def cells_from_features(features, family, coefficients=None):
    """``{luts (gates for the gates family), ffs, carry}`` from a feature dict, with the
    family's fitted coefficients or ``coefficients[family]``."""
    spec = families.family(family)
    c = coefficients[family] if coefficients else spec.coefficients()
    logic = sum(c["luts"].get(name, 0.0) * features[name] for name in FEATURES)
    result = {spec.logic: logic,
              "ffs": sum(c["ffs"].get(name, 0.0) * features[name] for name in FEATURES),
              "carry": sum(c["carry"].get(name, 0.0) * features[name] for name in FEATURES)}
    return {k: int(round(v)) for k, v in result.items()}


def mapped_features(plan, family):
    """``(features, memories)``: the plan's features with every memory mapped
    (:func:`map_memory`); a memory left to logic adds its LUTs and output registers to the
    features (:func:`~nomul.design.cost.memory_logic`), a mapped one is listed with its
    cells."""
    spec = families.family(family)
    lut_inputs, shared_leaves = spec.lut_inputs, spec.shared_leaves
    found, memories = features(plan, lut_inputs, shared_leaves)
    mapped = []
    for memory in memories:
        kind, cells, bits = _mapping(memory, family)
        mapped.append({"memory": memory.name, "depth": memory.depth, "width": memory.width,
                       "read_ports": memory.read_ports, "mapped_to": kind, "cells": cells,
                       "bits": bits})
        if kind == "logic":
            memory_logic(memory, lut_inputs, found, shared_leaves)
    return found, mapped


def estimate_stage(plan, family):
    """One stage's estimate: ``luts`` (``gates``), ``ffs``, ``carry``, ``brams`` (and their
    capacity, ``bram_bits``), ``dsps``,
    ``multipliers`` (0 for a table design; a baseline's multiplications, in DSPs where the
    family's ``dsp_min_product_bits`` says Yosys puts them, otherwise as adders:
    uncalibrated), the memories' mapping and the features."""
    found, mapped = mapped_features(plan, family)
    dsp_bits = families.family(family).dsp_min_product_bits
    report = {"luts": 0, "ffs": 0, "carry": 0, "brams": 0, "bram_bits": 0, "dsps": 0,
              "gates": 0}
    report["brams"] = sum(m["cells"] for m in mapped if m["mapped_to"] == "block")
    report["bram_bits"] = sum(m["bits"] for m in mapped)
    ternary = found.pop("ternary", [])    # three-input adders: one LUT6_2 a bit, a CARRY4 per 4
    multipliers = found.pop("multipliers", [])
    report["multipliers"] = len(multipliers)
    report["multiplied"] = [(a_bits, b_bits) for a_bits, b_bits, _ in multipliers]
    for a_bits, b_bits, weight in multipliers:
        if dsp_bits is not None and min(a_bits, b_bits) >= 2 and a_bits + b_bits >= dsp_bits:
            report["dsps"] += 1
        elif weight is not None:                   # shift-and-add of the constant
            found["adder"] += max(0, bin(abs(weight)).count("1") - 1) * (a_bits + b_bits)
        else:                                      # an array multiplier in logic
            found["adder"] += a_bits * b_bits
    report.update(cells_from_features(found, family))
    if ternary:
        report[families.family(family).logic] += sum(ternary)
        report["carry"] += sum(-(-bits // 4) for bits in ternary)
    report["memories"] = mapped
    report["features"] = found
    return report


def estimate_design(design, family):
    """Per stage and total estimates of a :class:`~nomul.design.Design`."""
    stages = {name: estimate_stage(plan, family) for name, plan in design.named_stages}
    total = {key: sum(s[key] for s in stages.values()) for key in COUNT_KEYS}
    return {"family": family, "stages": stages, "total": total}
