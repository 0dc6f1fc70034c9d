# SPDX-License-Identifier: MIT
"""Automatic folding: the chosen build meets the target II at the least estimated cost (checked
against every combination), never costs more than FINN's greedy SetFolding, respects a device."""

import itertools
from dataclasses import replace
from types import SimpleNamespace

import pytest

from helpers import digits_input_spec, run_cli
from nomul.design import lower
from nomul.errors import OptionsError
from nomul.hw.cost import design_cost
from nomul.hw.folding import (
    choose_folding,
    greedy_folding,
    layer_candidates,
    target_ii_of,
)
from nomul.models.modelfile import save_model
from nomul.models.synthetic import random_model


@pytest.fixture(scope="module")
def model():
    return random_model("64-12-10", digits_input_spec(), seed=3)


def _total(choice):
    return sum(c.lut_equivalents for c in choice.layers)


@pytest.mark.parametrize("target", [1, 8, 48, 200, 768])
def test_the_choice_meets_the_target_at_the_least_cost_of_every_combination(model, target):
    choice = choose_folding(model, target, "ice40")
    design = lower(model, choice.options)
    assert design.ii <= target
    assert design.ii == max(c.ii for c in choice.layers)
    everything = layer_candidates(model, "ice40", 1 << 20)        # every build, any II
    fast_enough = [[c for c in cands if c.ii <= target] for cands in everything]
    best = min(sum(c.lut_equivalents for c in combo)
               for combo in itertools.product(*fast_enough))
    assert _total(choice) == best
    # the stage estimates add up: the design's total is the layers' plus the quantizer's
    cost = design_cost(design, "ice40")
    layer_stages = [s for s in cost["stages"] if s["stage"].startswith("layer_")]
    assert [s["luts"] for s in layer_stages] == [c.counts[0] for c in choice.layers]


@pytest.mark.parametrize("target", [8, 48, 200, 768])
def test_never_costs_more_than_finns_greedy_set_folding(model, target):
    ours, greedy = choose_folding(model, target, "ice40"), greedy_folding(model, target, "ice40")
    assert lower(model, greedy.options).ii <= target
    assert _total(ours) <= _total(greedy)


def test_a_slower_target_never_costs_more(model):
    costs = [_total(choose_folding(model, t, "ice40")) for t in (1, 4, 16, 64, 256, 768)]
    assert costs == sorted(costs, reverse=True)


def test_a_device_budget_is_respected_or_refused_in_one_line(model):
    choice = choose_folding(model, 768, "ice40", device="up5k")
    cost = design_cost(lower(model, choice.options), "ice40")
    assert cost["fits"]
    big = random_model("64-64-64-10", digits_input_spec(), seed=4)
    with pytest.raises(OptionsError, match=r"no folding with II <= 1 fits the up5k: the "
                                           r"cheapest needs \d+ luts of 5280"):
        choose_folding(big, 1, "ice40", device="up5k")
    with pytest.raises(OptionsError, match="device up5k is an ice40 part, not ecp5"):
        choose_folding(model, 8, "ecp5", device="up5k")


def test_single_input_buffers_are_chosen_only_where_the_flip_flops_need_them(model,
                                                                            monkeypatch):
    """A single input buffer costs the LUTs of a double one and fewer flip-flops: without a
    device, or with room, every layer keeps the double buffer; with the UP5K's flip-flops cut
    between the two designs' counts, the same folding fits with single buffers."""
    from nomul.hw import families, folding

    roomy = choose_folding(model, 768, "ice40", device="up5k")
    assert all(c.options.input_buffer is None for c in roomy.layers)
    assert choose_folding(model, 768, "ice40").options == roomy.options
    single = replace(roomy.options, layers=tuple(
        (c.position, replace(c.options, input_buffer="single")) for c in roomy.layers))
    ffs = {name: design_cost(lower(model, options), "ice40")["ffs"]
           for name, options in (("double", roomy.options), ("single", single))}
    assert ffs["single"] < ffs["double"]
    capacity = {**families.family("ice40").device.capacity,
                "ffs": (ffs["single"] + ffs["double"]) // 2}
    smaller = SimpleNamespace(device=SimpleNamespace(capacity=capacity))
    monkeypatch.setattr(folding, "families", SimpleNamespace(
        FAMILIES=families.FAMILIES, family=lambda name: smaller))
    tight = choose_folding(model, 768, "ice40", device="up5k")
    assert any(c.options.input_buffer == "single" for c in tight.layers)
    assert _total(tight) == _total(roomy)
    used = design_cost(lower(model, tight.options), "ice40")
    assert all(used[key] <= capacity[key] for key in ("luts", "ffs", "brams", "dsps"))


@pytest.mark.parametrize("args, expected", [
    ((7, None, None), 7), ((None, 100_000.0, 24.0), 240), ((None, 1e6, 1.0), 1),
    ((None, 2e6, 1.0), OptionsError),
    ((None, 10.0, None), OptionsError), ((5, 10.0, 24.0), OptionsError),
    ((None, None, 24.0), OptionsError),
])
def test_target_from_throughput(args, expected):
    if expected is OptionsError:
        with pytest.raises(OptionsError):
            target_ii_of(*args)
    else:
        assert target_ii_of(*args) == expected




def test_build_with_a_target_and_refusals(capsys, tmp_path, model):
    import json

    path = save_model(model, tmp_path / "m.npz")
    status, out, err = run_cli(capsys, "build", path, "--target-ii", "48", "-o", tmp_path / "rtl",
                            "--json")
    assert status == 0, err
    manifest = json.loads(out)
    assert manifest["ii"] <= 48
    chosen = choose_folding(model, 48, "ice40").describe()["layers"]
    built = [layer for layer in manifest["layers"] if "arch" in layer]
    assert [(b["arch"], b.get("pe"), b.get("simd")) for b in built] == \
        [(c["arch"], c["pe"], c["simd"]) for c in chosen]
    for argv, message in [
        (["--target-ii", "8", "--simd", "2"], "give the target or --simd, not both"),
        (["--device", "up5k"], "--device constrains automatic folding"),
        (["--target-ii", "0"], "--target-ii must be a positive integer"),
        (["--target-ii", "8", "--device", "virtex"], "unknown device 'virtex'"),
    ]:
        status, _, err = run_cli(capsys, "build", path, *argv, "-o", tmp_path / "x")
        assert status == 2 and message in err and "Traceback" not in err


def test_a_block_ram_weight_rom_is_a_candidate_where_it_changes_the_build(model):
    """Layer 0 at PE 1 x SIMD 1 reads a 768-word weight ROM, a memory either way (its block-RAM
    candidate is the auto one, dropped); layer 1's 120 words are chunks of logic unless put
    in a block RAM, which the estimate counts."""
    first, second = layer_candidates(model, "ice40", 1 << 20)

    def serial(candidates, style):
        return [c for c in candidates if c.options.arch == "folded" and c.options.pe == 1
                and c.options.simd == 1 and c.options.table_style == "logic"
                and c.options.weight_style == style and c.options.input_buffer is None]

    assert len(serial(first, None)) == 1 and serial(first, "block") == []
    (auto,), (block,) = serial(second, None), serial(second, "block")
    brams = 2                                         # RESOURCES: luts, ffs, brams, dsps
    assert block.counts[brams] == auto.counts[brams] + 1
    assert block.counts[0] < auto.counts[0]
