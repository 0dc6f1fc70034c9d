# SPDX-License-Identifier: MIT
"""Upper bound on cycle-based simulation of the unrolled digits MLP: ideal straight-line C++.

A cycle-based simulator such as Verilator turns every register update of a design into one
straight-line C++ statement and runs all of them once per clock. This script writes the least
such code can contain for the unrolled digits MLP (64-64-32-10, one inference per cycle), by
hand and without any of the overhead of generated code: the state is one int32 array, each
pipeline register is one statement (input indices; the shared product columns, a branch-free
read of a small constant table; every adder-tree level registered, as nomul's default
``register_every=1``; the threshold counts; the argmax), updated in reverse pipeline order so no
double buffering is needed. No handshake, no stall enables, no wide vectors, no sign-extension
masks.

It compiles that model with g++ (``-O1`` and ``-O2``), streams the digits test split through
it ``--repeat`` times, checks every output against ``reference.predict`` (bit-exact), and prints
simulated cycles per second. Whatever Verilator emits for the same design does at least this
work per cycle, so this is a ceiling for the compiled Verilator harness on this machine.

Run: ``.venv/bin/python bench/sim_bound.py [--model build/demo/digits.npz] [--repeat 200]
[--flags=-O1,-O2]``.
"""

import argparse
import itertools
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


class StraightLine:
    """Emits one C++ statement per pipeline register of the unrolled network."""

    def __init__(self):
        self.registers = 0
        self.stages = []          # stages[d]: statements that update the registers at depth d
        self.tables = []
        self.depth = -1           # the depth of the last stage opened

    def new(self, count):
        first = self.registers
        self.registers += count
        return list(range(first, first + count))

    def stage(self, statements, depth=None):
        """Add ``statements`` at ``depth`` (default: a new stage after the deepest one)."""
        depth = len(self.stages) if depth is None else depth
        while len(self.stages) <= depth:
            self.stages.append([])
        self.stages[depth].extend(statements)

    def table(self, values):
        self.tables.append(values)
        return len(self.tables) - 1


def _tree(code, leaves, depth):
    """Register every level of a pairwise adder tree over ``leaves`` (at depth ``depth`` + 1 on).

    Returns the root register and its depth.
    """
    level = leaves
    while len(level) > 1:
        pairs = [level[i:i + 2] for i in range(0, len(level), 2)]
        out = code.new(len(pairs))
        depth += 1
        code.stage([f"s[{o}] = s[{p[0]}] + s[{p[1]}];" if len(p) == 2 else f"s[{o}] = s[{p[0]}];"
                    for o, p in zip(out, pairs, strict=True)], depth)
        level = out
    return level[0], depth


def _sum(code, leaves, depth):
    """One registered sum of all ``leaves`` (an adder tree with no pipeline registers)."""
    root = code.new(1)[0]
    code.stage([f"s[{root}] = " + " + ".join(f"s[{leaf}]" for leaf in leaves) + ";"], depth + 1)
    return root, depth + 1


def network_code(model, *, registered_trees=True):
    """The straight-line C++ of one clock of the unrolled ``model`` (dense layers, group 1).

    ``registered_trees``: a register after every adder-tree level (nomul's default
    ``register_every=1``); otherwise each tree is one combinational sum (``register_every=0``).
    """
    code = StraightLine()
    tree = _tree if registered_trees else _sum
    inputs = code.new(model.input.elements)
    code.stage([f"s[{r}] = in[{i}];" for i, r in enumerate(inputs)])
    for layer in model.layers:
        if layer.group != 1:
            raise SystemExit("sim_bound handles group-1 dense layers only")
        # shared product columns: one register per (input, codeword) actually used
        used = sorted({(g, int(k)) for g in range(layer.n_groups)
                       for k in layer.weight_index[:, g]})
        columns = dict(zip(used, code.new(len(used)), strict=True))
        tables = {k: code.table(layer.table[:, k]) for k in range(layer.n_codewords)}
        code.stage([f"s[{r}] = t{tables[k]}[s[{inputs[g]}]];" for (g, k), r in columns.items()])
        depth = len(code.stages) - 1
        trees = [tree(code, [columns[(g, int(k))] for g, k in enumerate(layer.weight_index[o])],
                       depth) for o in range(layer.out_channels)]
        accumulators = [root for root, _ in trees]
        assert len({d for _, d in trees}) == 1, "trees of one layer have equal depth"
        bias_table = code.table([int(b) for b in layer.bias])
        # the bias enters at the root: one more registered add per output
        outs = code.new(layer.out_channels)
        code.stage([f"s[{r}] = s[{a}] + t{bias_table}[{o}];"
                    for o, (r, a) in enumerate(zip(outs, accumulators, strict=True))])
        if layer.activation.kind == "argmax":
            result = code.new(1)[0]
            body = [f"{{ int best = 0; int v = s[{outs[0]}];"]
            body += [f"if (s[{r}] > v) {{ v = s[{r}]; best = {o}; }}"
                     for o, r in enumerate(outs) if o]
            body.append(f"s[{result}] = best; }}")
            code.stage(body)
            code.output = result
        else:
            thresholds = layer.activation.thresholds
            levels = code.new(layer.out_channels)
            statements = []
            for o, (r, a) in enumerate(zip(levels, outs, strict=True)):
                row = thresholds[o] if thresholds.ndim == 2 else thresholds
                statements.append(f"s[{r}] = " + " + ".join(f"(s[{a}] >= {int(t)})" for t in row)
                                  + ";")
            code.stage(statements)
            inputs = levels
    return code


def cpp_source(code, n_inputs):
    lines = ["#include <chrono>", "#include <cstdio>", "#include <cstdlib>", "#include <vector>",
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
        f"  const long latency = {len(code.stages) - 1}; std::vector<int> out(samples);",
        "  auto start = std::chrono::steady_clock::now();",
        "  for (long c = 0; c < samples + latency; ++c) {",
        f"    clock(x.data() + (c < samples ? c : samples - 1) * {n_inputs});",
        f"    if (c >= latency) out[c - latency] = s[{code.output}];",
        "  }",
        "  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)"
        ".count();",
        "  printf(\"%ld %.6f\\n\", samples + latency, t);",
        "  FILE* o = fopen(argv[3], \"wb\"); fwrite(out.data(), 4, samples, o); fclose(o);",
        "}",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="build/demo/digits.npz")
    parser.add_argument("--repeat", type=int, default=200, help="passes over the test split")
    parser.add_argument("--flags", default="-O1,-O2,-O2 -march=native",
                        help="comma-separated g++ flag sets to try, one build each "
                             "(write --flags=-O1,...)")
    args = parser.parse_args()
    model = load_model(args.model)
    digits = load_dataset("digits")
    raw = np.concatenate([digits.x_test] * args.repeat)
    expected = reference.predict(model, raw)
    indices = reference.quantize_input(model.input, raw).reshape(len(raw), -1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {len(raw)} samples "
          f"({args.repeat} x the digits test split)")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        indices.astype(np.int32).tofile(work / "in.bin")
        for registered, flags in itertools.product((True, False), args.flags.split(",")):
            code = network_code(model, registered_trees=registered)
            (work / "bound.cpp").write_text(cpp_source(code, indices.shape[1]))
            statements = sum(len(s) for s in code.stages)
            start = time.perf_counter()
            subprocess.run(["g++", *flags.split(), "-o", str(work / "bound"),
                            str(work / "bound.cpp")], check=True)
            built = time.perf_counter() - start
            done = subprocess.run([str(work / "bound"), str(work / "in.bin"), str(len(raw)),
                                   str(work / "out.bin")], check=True, capture_output=True,
                                  text=True)
            cycles, seconds = done.stdout.split()
            got = np.fromfile(work / "out.bin", dtype=np.int32)
            agree = np.mean(got == expected)
            print(f"{'registered' if registered else 'combinational'} trees: {statements} "
                  f"register statements, {len(code.stages)} stages; g++ {flags:18s} build "
                  f"{built:5.1f} s, {int(cycles)} cycles in "
                  f"{float(seconds):.3f} s = {int(cycles) / float(seconds) / 1e3:8.1f} k cycles/s,"
                  f" agreement {100 * agree:.2f} %")


if __name__ == "__main__":
    main()
