# SPDX-License-Identifier: MIT
"""Upper bound on cycle-based simulation of an unrolled nomul design: ideal straight-line C++.

A cycle-based simulator such as Verilator turns every register update of a design into
straight-line C++ and runs all of it once per clock. This script writes, from the same lowered
design nomul builds (``nomul.lower``: each unrolled layer's adder graph, its pipeline cuts,
carried values and output registers), the least such code can contain, by hand and without
any of the overhead of generated code: the state is one int32 array, each register one
statement, each adder of a stage one local expression, each lookup a branch-free read of a
small constant table, the activation (a clamp, threshold counts, an argmax) one statement per
output, the stages updated in reverse order so no double buffering is needed. No handshake,
no stall enables, no wide vectors, no sign-extension masks; the input quantizer is left out
(the samples arrive as indices).

It compiles that model with g++, streams the digits test split through it ``--repeat`` times,
checks every output against ``reference.run`` (bit-exact), and prints simulated cycles per
CPU-second. Then, with ``--harness``, it runs nomul's compiled Verilator harness
(``nomul.simulate(..., simulator="fast")``) on the same samples and prints the ratio of its
cycles per CPU-second to the bound's.

Run: ``.venv/bin/python bench/sim_bound.py [--model build/demo/digits.npz] [--repeat 200]
[--flags=-O1,-O2] [--register-every R] [--harness]``.
"""

import argparse
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from nomul.models import reference
from nomul.models.datasets import load_dataset
from nomul.models.modelfile import load_model
from nomul.sim.vectors import expected_outputs


class StraightLine:
    """Straight-line C++ of one clock: ``stages[d]`` the statements that update the registers
    loaded at the end of pipeline stage ``d`` (later stages run first)."""

    def __init__(self):
        self.registers = 0
        self.stages = []
        self.tables = []
        self.output = []

    def new(self, count=1):
        first = self.registers
        self.registers += count
        return list(range(first, first + count))

    def stage(self, depth, statements):
        while len(self.stages) <= depth:
            self.stages.append([])
        self.stages[depth].extend(statements)

    def table(self, values):
        self.tables.append([int(v) for v in values])
        return len(self.tables) - 1


def _graph_layer(code, plan, inputs, depth):
    """One :class:`~nomul.design.unrolled.UnrolledPlan`: ``inputs`` the registers of its
    input indices (loaded at the end of stage ``depth - 1``). Returns its output registers
    and the stage after its last."""
    from nomul.design.graph import ConstLeaf, InputLeaf
    from nomul.design.trees import ArgmaxPlan, ClampPlan, ThresholdPlan

    held = {}                               # (value id, stage) -> register

    def operand(index, stage, local):
        if stage == plan.stage[index]:
            return local[index]
        return f"s[{held[(index, stage)]}]"

    for value, d in plan.delays:           # carried values: one register per stage crossed
        held[(value, plan.stage[value] + d)] = code.new()[0]
    for stage in range(plan.stages):
        local, body = {}, ["{"]
        for index, leaf in enumerate(plan.leaves):
            if plan.stage[index] != stage:
                continue
            if isinstance(leaf, InputLeaf):
                local[index] = f"s[{inputs[leaf.element]}]"
            elif isinstance(leaf, ConstLeaf):
                local[index] = str(leaf.value)
            else:
                table, width = code.table(leaf.values), plan.in_port.element.width
                address = " | ".join(f"(s[{inputs[e]}] << {width * j})"
                                     for j, e in enumerate(leaf.members))
                local[index] = f"t{table}[{address}]"
        for index, (a, b, shift, sign) in enumerate(plan.nodes, start=len(plan.leaves)):
            if plan.stage[index] == stage:
                right = operand(b, stage, local) + (f" * {1 << shift}" if shift else "")
                body.append(f"int v{index} = {operand(a, stage, local)} "
                            f"{'+' if sign > 0 else '-'} {right};")
                local[index] = f"v{index}"
        for (value, at), register in held.items():
            if at == stage + 1:
                body.append(f"s[{register}] = {operand(value, stage, local)};")
        if stage == plan.stages - 1:
            outputs = code.new(len(plan.outputs))
            for register, term in zip(outputs, plan.outputs, strict=True):
                value = "0" if term is None else operand(term[0], stage, local)
                body.append(f"s[{register}] = {value};")
        code.stage(depth + stage, body + ["}"])
    depth += plan.stages
    act = plan.act
    if act is None:
        return outputs, depth
    if isinstance(act, ArgmaxPlan):
        result = code.new()[0]
        body = [f"{{ int best = 0; int v = s[{outputs[0]}];"]
        body += [f"if (s[{r}] > v) {{ v = s[{r}]; best = {o}; }}"
                 for o, r in enumerate(outputs) if o]
        code.stage(depth, body + [f"s[{result}] = best; }}"])
        return [result], depth + 1
    counts = code.new(len(outputs))
    body = []
    if isinstance(act, ClampPlan):
        for j, (always, count, base, shift) in enumerate(act.units):
            x = f"s[{outputs[j]}]"
            clamp = (f"({x} < {base} ? 0 : {x} >= {base + (count - 1) * (1 << shift)} ? {count}"
                     f" : (({x} - {base}) >> {shift}) + 1)") if count else "0"
            value = f"{always} + {clamp}"
            if act.complement and act.complement[j]:
                value = f"{act.levels} - ({value})"
            body.append(f"s[{counts[j]}] = {value};")
    else:
        assert isinstance(act, ThresholdPlan)
        for j, row in enumerate(act.rows):
            value = " + ".join(f"({f's[{outputs[j]}]'} >= {int(t)})" for t in row)
            if act.complement and act.complement[j]:
                value = f"{len(row)} - ({value})"
            body.append(f"s[{counts[j]}] = {value};")
    code.stage(depth, body)
    return counts, depth + 1


def network_code(design):
    """The straight-line C++ of one clock of an unrolled :class:`~nomul.design.Design`
    (dense layers of adder graphs; the samples arrive as input indices)."""
    from nomul.design.unrolled import UnrolledPlan

    code = StraightLine()
    plans = [plan for _, plan in design.stages[1:]]
    if not all(isinstance(plan, UnrolledPlan) for plan in plans):
        raise SystemExit("sim_bound handles unrolled dense layers only")
    inputs = code.new(plans[0].n_inputs)
    code.stage(0, [f"s[{r}] = in[{i}];" for i, r in enumerate(inputs)])
    depth = 1
    for plan in plans:
        inputs, depth = _graph_layer(code, plan, inputs, depth)
    code.output = inputs
    return code


def cpp_source(code, n_inputs):
    lines = ["#include <ctime>", "#include <cstdio>", "#include <cstdlib>", "#include <vector>",
             f"static int s[{code.registers}];"]
    for i, values in enumerate(code.tables):
        lines.append(f"static const int t{i}[] = {{{', '.join(str(int(v)) for v in values)}}};")
    lines.append("__attribute__((noinline)) static void clock(const int* in) {")
    for statements in reversed(code.stages):      # later stages read the old earlier registers
        lines.extend("  " + s for s in statements)
    lines.append("}")
    lines += [
        "int main(int argc, char** argv) {",
        f"  long samples = atol(argv[2]); std::vector<int> x(samples * {n_inputs});",
        "  FILE* f = fopen(argv[1], \"rb\"); fread(x.data(), 4, x.size(), f); fclose(f);",
        f"  const long latency = {len(code.stages) - 1}, width = {len(code.output)};",
        "  std::vector<int> out(samples * width);",
        "  std::clock_t start = std::clock();",
        "  for (long c = 0; c < samples + latency; ++c) {",
        f"    clock(x.data() + (c < samples ? c : samples - 1) * {n_inputs});",
        "    if (c >= latency) {",
        *[f"      out[(c - latency) * width + {j}] = s[{r}];" for j, r in enumerate(code.output)],
        "    }",
        "  }",
        "  double t = double(std::clock() - start) / CLOCKS_PER_SEC;",
        "  printf(\"%ld %.6f\\n\", samples + latency, t);",
        "  FILE* o = fopen(argv[3], \"wb\"); fwrite(out.data(), 4, out.size(), o); fclose(o);",
        "}",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="build/demo/digits.npz")
    parser.add_argument("--repeat", type=int, default=200, help="passes over the test split")
    parser.add_argument("--flags", default="-O1,-O2",
                        help="comma-separated g++ flag sets to try, one build each "
                             "(write --flags=-O1,...)")
    parser.add_argument("--register-every", type=int, default=None,
                        help="the design's pipelining (default: nomul's)")
    parser.add_argument("--harness", action="store_true",
                        help="also run nomul's Verilator harness and print the ratio")
    args = parser.parse_args()
    import nomul

    model = load_model(args.model)
    options = {} if args.register_every is None else {"register_every": args.register_every}
    design = nomul.lower(model, **options)
    digits = load_dataset("digits")
    raw = np.concatenate([digits.x_test] * args.repeat)
    expected = reference.run(model, raw).reshape(len(raw), -1)
    indices = reference.quantize_input(model.input, raw).reshape(len(raw), -1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {len(raw)} samples "
          f"({args.repeat} x the digits test split); design {options or 'default options'}")
    code = network_code(design)
    statements = sum(len(s) for s in code.stages)
    best = 0.0
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        indices.astype(np.int32).tofile(work / "in.bin")
        (work / "bound.cpp").write_text(cpp_source(code, indices.shape[1]))
        for flags in args.flags.split(","):
            start = time.perf_counter()
            subprocess.run(["g++", *flags.split(), "-o", str(work / "bound"),
                            str(work / "bound.cpp")], check=True)
            built = time.perf_counter() - start
            done = subprocess.run([str(work / "bound"), str(work / "in.bin"), str(len(raw)),
                                   str(work / "out.bin")], check=True, capture_output=True,
                                  text=True)
            cycles, seconds = int(done.stdout.split()[0]), float(done.stdout.split()[1])
            got = np.fromfile(work / "out.bin", dtype=np.int32).reshape(expected.shape)
            agree = np.mean(np.all(got == expected, axis=1))
            best = max(best, cycles / seconds)
            print(f"ideal straight line: {statements} statements, {len(code.stages)} stages; "
                  f"g++ {flags:8s} build {built:5.1f} s, {cycles} cycles in {seconds:.3f} "
                  f"CPU-s = {cycles / seconds / 1e3:8.1f} k cycles/CPU-s, agreement "
                  f"{100 * agree:.2f} %")
    if args.harness:
        start = os.times()
        run = nomul.simulate(design, raw, simulator="fast")
        used = os.times()
        cpu = (used.user - start.user + used.children_user - start.children_user
               + used.system - start.system + used.children_system - start.children_system)
        agree = np.mean([got == want for got, want in
                         zip(run.outputs, expected_outputs(model, raw), strict=True)])
        print(f"nomul's Verilator harness: {run.cycles} cycles in {run.seconds:.3f} CPU-s = "
              f"{run.cycles / run.seconds / 1e3:8.1f} k cycles/CPU-s "
              f"({run.cycles / run.seconds / best:.2f}x the bound), agreement "
              f"{100 * agree:.2f} %; emit + build + run {cpu:.1f} CPU-s")


if __name__ == "__main__":
    main()
