# SPDX-License-Identifier: MIT
"""A KAN compiled to lookup tables, in nomul: one table per edge, saturating requantization.

The network (fixed seed): 16 inputs of 8 bits -> 8 -> 5. Every edge ``(o, i)`` has its own
function of its input (a random smooth curve, ``|phi| < 2**7``: one codeword per edge), each
output sums its edges, then requantizes with saturation: ``clip((acc + r) >> s, 0, 127)``
after layer 1 (7 bits, 127 thresholds evenly spaced by ``2**s``) and ``clip(.., 0, 255)``
after layer 2 (8-bit saturated outputs, the last layer ending in thresholds). This is the
shape of network the peer (a KAN-to-LUT compiler) builds; its own design is not available
here, so the figures compare nomul's threshold units with each other: ``auto`` (the shift and
clamp, two comparisons and a multiplexer per output), ``parallel`` (one comparator per
threshold and a count) and ``search`` (a pipelined binary search).

Per layer and method it prints Yosys's LUT / CARRY / FF (xilinx, ``synth_xilinx``), the
analytical estimate, and the same for the activation unit alone (the threshold stage), with
the estimate's error. Bit-exact: the whole network (auto) through the compiled Verilator
harness against the reference on 500 random samples.

Run: ``.venv/bin/python bench/kan_like.py [--family xilinx] [--methods auto,parallel,search]
[--json] [--estimate-only]`` (``--estimate-only``: the estimates alone, no synthesis; the
Yosys columns print as 0).
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import nomul
from nomul.design.unrolled import UnrolledPlan
from nomul.gateware.emit import emit_verilog
from nomul.gateware.network import component
from nomul.hw.estimate import cells_from_features, estimate_stage
from nomul.hw.synth import synthesize
from nomul.models.spec import Activation, Dense, InputSpec, IntegerModel

SIZES = (16, 8, 5)
IN_BITS, HIDDEN_BITS, OUT_BITS = 8, 7, 8


def _edge_functions(rng, levels, edges, amplitude=127):
    """``(levels, edges)``: per edge a smooth random curve (a random walk, smoothed and
    scaled into ``[-amplitude, amplitude]``)."""
    steps = rng.normal(size=(levels, edges)).cumsum(axis=0)
    kernel = np.ones(9) / 9
    smooth = np.stack([np.convolve(steps[:, e], kernel, mode="same") for e in range(edges)], 1)
    smooth -= smooth.mean(axis=0)
    return np.rint(smooth / np.abs(smooth).max(axis=0) * amplitude).astype(np.int64)


def _saturating(layer_in, outputs, out_bits, rng, table):
    """Thresholds of ``clip((acc + r) >> s, 0, 2**out_bits - 1)``, ``s`` so that the output
    range covers about the accumulators' spread."""
    spread = int(np.abs(table).max()) * layer_in
    shift = max(0, (2 * spread >> out_bits).bit_length() - 1)
    offset = rng.integers(0, 1 << shift, size=outputs) if shift else np.zeros(outputs, int)
    steps = np.arange(1, 1 << out_bits)[None, :] << shift
    return steps - offset[:, None] - (spread >> 1)


def kan_model(seed=0):
    rng = np.random.default_rng(seed)
    layers, levels = [], 1 << IN_BITS
    for position, (n_in, n_out) in enumerate(zip(SIZES, SIZES[1:])):
        table = _edge_functions(rng, levels, n_in * n_out)
        index = np.arange(n_in * n_out).reshape(n_out, n_in)
        bits = HIDDEN_BITS if position == 0 else OUT_BITS
        thresholds = _saturating(n_in, n_out, bits, rng, table)
        layers.append(Dense(in_levels=levels, group=1, table=table, weight_index=index,
                            bias=np.zeros(n_out, dtype=np.int64),
                            activation=Activation("thresholds", thresholds)))
        levels = 1 << bits
    return IntegerModel(input=InputSpec(shape=(SIZES[0],), raw_min=0,
                                        raw_max=(1 << IN_BITS) - 1),
                        layers=tuple(layers), meta={"bench": "kan_like"})


def synth_plan(plan, name, family, work):
    """Yosys's LUT, CARRY and FF counts of one plan's component, synthesized alone."""
    path = work / f"{name}.v"
    path.write_text(emit_verilog(component(plan), name))
    start = time.perf_counter()
    report = synthesize(path, name, family, work / name)
    return {k: report[k] for k in ("luts", "carry", "ffs")} | {
        "synth_s": round(time.perf_counter() - start, 1)}


def activation_estimate(plan, family):
    """The estimate of the plan's activation unit alone (its features only)."""
    from nomul.design.cost import activation_features, new_features
    from nomul.hw.families import family as family_spec

    spec = family_spec(family)
    f = new_features()
    activation_features(plan.act, plan.values, f, lut_inputs=spec.lut_inputs,
                        shared_leaves=spec.shared_leaves)
    return cells_from_features(f, family)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="xilinx")
    parser.add_argument("--methods", default="auto,parallel,search")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--estimate-only", action="store_true")
    args = parser.parse_args()
    model = kan_model()
    raw = np.random.default_rng(1).integers(0, 1 << IN_BITS, size=(500, SIZES[0]))
    design = nomul.lower(model)
    run = nomul.simulate(design, raw, simulator="fast")
    exact = run.outputs == nomul.reference(model, raw).reshape(len(raw), -1).tolist()
    rows = []
    with tempfile.TemporaryDirectory(prefix="nomul-kan-") as scratch:
        work = Path(scratch)
        for method in args.methods.split(","):
            design = nomul.lower(model, threshold_method=method)
            for position, (_, plan) in enumerate(design.stages[1:], start=1):
                assert isinstance(plan, UnrolledPlan)
                if args.estimate_only:
                    layer = act = {"luts": 0, "carry": 0, "ffs": 0, "synth_s": 0}
                else:
                    layer = synth_plan(plan, f"{method}_l{position}", args.family, work)
                    act = synth_plan(plan.act, f"{method}_act{position}", args.family, work)
                layer_est = estimate_stage(plan, args.family)
                act_est = activation_estimate(plan, args.family)
                rows.append({
                    "method": method, "position": position, "unit": type(plan.act).__name__,
                    "layer": {**layer, "est_luts": layer_est["luts"],
                              "est_ffs": layer_est["ffs"], "est_carry": layer_est["carry"]},
                    "activation": {**act, "est_luts": act_est["luts"],
                                   "est_ffs": act_est["ffs"], "est_carry": act_est["carry"]},
                    "latency": plan.latency,
                })
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {"family": args.family, "bit_exact_500": exact, "rows": rows}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"bit-exact (auto, 500 samples, fast harness): {exact}")
        print(f"{'method':<9}{'layer':>6}{'unit':>14}{'LUT':>7}{'est':>7}{'FF':>7}{'CARRY':>7}"
              f"{'act LUT':>9}{'est':>7}{'err':>7}{'act FF':>8}{'act CARRY':>10}{'est':>6}")
        for r in rows:
            a = r["activation"]
            err = f"{(a['est_luts'] - a['luts']) / a['luts']:+.0%}" if a["luts"] else "-"
            print(f"{r['method']:<9}{r['position']:>6}{r['unit']:>14}{r['layer']['luts']:>7}"
                  f"{r['layer']['est_luts']:>7}{r['layer']['ffs']:>7}{r['layer']['carry']:>7}"
                  f"{a['luts']:>9}{a['est_luts']:>7}{err:>7}{a['ffs']:>8}{a['carry']:>10}"
                  f"{a['est_carry']:>6}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
