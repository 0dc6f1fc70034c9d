# SPDX-License-Identifier: MIT
"""nomul against da4ml 0.6.0 on the same integer function: LUTs per layer under one Yosys flow.

The function is the shared digits model (``bench/da4ml/``): a 64-64-32-10 MLP, 4-bit input,
8-value integer codebooks, 2-bit clipped-ReLU hidden activations ``clip(acc >> s, 0, 3)``, raw
logits. ``bench/da4ml/train_quant.py`` trains it, ``to_nomul.py`` writes it as a nomul model
file (checked equal to the numpy integer model), ``gen_da4ml.py`` (in da4ml's own virtual
environment, created here on first use: da4ml is a bench-only dependency) writes da4ml's
combinational Verilog per layer and checks ``comb.predict`` bit-exact on all 1797 samples.

Per layer this script then:

- builds nomul's stage (``--register-every``, default 0: combinational like da4ml's; input
  grouping ``auto``) and checks the whole nomul network bit-exact on all 1797 samples through
  the compiled Verilator harness (``nomul.simulate(..., simulator="fast")``);
- synthesizes both layers with the same flow (``nomul.hw.synth.synthesize``: Yosys
  ``synth_xilinx -family xc7``), caching each result by the Verilog's hash (da4ml's 64 x 64
  layer takes Yosys tens of minutes);
- prints LUT, CARRY4, FF, word-level adders (``$add``/``$sub`` cells before mapping, plus
  nomul's three-input adders, which are primitives), the LUT ratio nomul / da4ml, and nomul's
  analytical estimate of its layer (with its error).

nomul's adders are ``ternary`` by default (``--adders``): where a graph node is read by one
node alone, the two are one three-input adder of Xilinx ``LUT6_2`` + ``CARRY4`` primitives
(:mod:`nomul.gateware.ternary`; the harness simulates them with Yosys's own models), a LUT per
result bit where two two-input adders take one per bit each. ``--adders binary`` gives the
portable Verilog of every other family.

Run: ``.venv/bin/python bench/vs_da4ml.py [--layers 1,2,3] [--json] [--register-every R]
[--adders binary|ternary] [--work DIR]`` (work directory default ``$NOMUL_CACHE/vs_da4ml`` or
``~/.cache/nomul/vs_da4ml``). Exit status 1 when anything is not bit-exact.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import nomul
from nomul.gateware.emit import emit_verilog
from nomul.gateware.network import component
from nomul.hw.estimate import estimate_stage
from nomul.hw.synth import synthesize

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "da4ml"
DA4ML = "da4ml==0.6.0"
FAMILY = "xilinx"
LAYERS = {1: "l1act", 2: "l2act", 3: "l3"}          # layer -> da4ml design of the same function


def _run(command, **kwargs):
    print("+", " ".join(str(c) for c in command), file=sys.stderr, flush=True)
    subprocess.run([str(c) for c in command], check=True, **kwargs)


def default_work():
    base = os.environ.get("NOMUL_CACHE") or Path.home() / ".cache" / "nomul"
    return Path(base) / "vs_da4ml"


def da4ml_python(work):
    """da4ml's virtual environment (made and installed on first use)."""
    venv = work / "venv-da4ml"
    python = venv / "bin" / "python"
    if not (venv / "installed").exists():
        _run([sys.executable, "-m", "venv", venv])
        _run([python, "-m", "pip", "install", "-q", DA4ML, "numpy"])
        (venv / "installed").write_text(DA4ML + "\n")
    return python


def shared_model(work):
    """The shared model: ``work/model.npz`` (numpy integer model) and its nomul model file."""
    if not (work / "model.npz").exists():
        _run([sys.executable, SCRIPTS / "train_quant.py", work])
    if not (work / "da4ml_digits.npz").exists():
        _run([sys.executable, SCRIPTS / "to_nomul.py", work])
    return np.load(work / "model.npz"), nomul.load(work / "da4ml_digits.npz")


def da4ml_design(work, name):
    """``(verilog, generation info)`` of da4ml's design ``name`` (generated on first use)."""
    info = work / "da4ml" / f"{name}.json"
    if not info.exists():
        _run([da4ml_python(work), SCRIPTS / "gen_da4ml.py", work, name])
    src = work / "da4ml" / name / "src"
    top = (src / f"da_{name}.v").read_text()
    static = []                       # the modules the top uses, in order of first use
    for path in sorted((src / "static").glob("*.v")):
        text = path.read_text()
        uses = [m.start() for name in re.findall(r"module\s+(\w+)", text)
                for m in [re.search(rf"\b{name}\s*#?\s*\(", top)] if m]
        if uses:
            static.append((min(uses), text))
    return "\n".join([top, *(text for _, text in sorted(static))]), json.loads(info.read_text())


def numpy_logits(z, x):
    """The shared model's integer function (``bench/da4ml/to_nomul.py``'s ``numpy_int``)."""
    a = np.clip(x, 0, 15).astype(np.int64)
    for i in (1, 2, 3):
        acc = a @ z[f"W{i}"] + z[f"B{i}"]
        if i < 3:
            a = np.clip(acc >> int(z["shifts"][i - 1]), 0, 3)
    return acc


def synth_cached(work, verilog, top):
    """Yosys counts of ``top`` in ``verilog`` (+ word-level adders, seconds), cached by hash."""
    key = hashlib.sha256(f"{FAMILY}\0{top}\0{verilog}".encode()).hexdigest()[:20]
    cache = work / "synth" / f"{key}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    run_dir = work / "synth" / key
    run_dir.mkdir(parents=True, exist_ok=True)
    source = run_dir / f"{top}.v"
    source.write_text(verilog)
    start, cpu = time.perf_counter(), _children_cpu()
    report = synthesize(source, top, FAMILY, run_dir / "yosys")
    word = json.loads((run_dir / "yosys" / "word.json").read_text())
    cells = word["design"].get("num_cells_by_type", {})
    result = {k: report[k] for k in ("luts", "carry", "ffs", "muxes", "dsps", "multipliers")}
    result.update(adders=cells.get("$add", 0) + cells.get("$sub", 0),
                  synth_wall_s=round(time.perf_counter() - start, 1),
                  synth_cpu_s=round(_children_cpu() - cpu, 1))
    cache.write_text(json.dumps(result, indent=1))
    return result


def _children_cpu():
    usage = os.times()
    return usage.children_user + usage.children_system


def nomul_bit_exact(design, z, work):
    """The nomul network's Verilog through the compiled harness on all 1797 samples."""
    x = z["x_all"]
    run = nomul.simulate(design, x, simulator="fast", cache_dir=work / "harness")
    got = np.asarray(run.outputs, dtype=np.int64).reshape(len(x), -1)
    return bool(np.array_equal(got, numpy_logits(z, x)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="1,2,3", help="layers to compare (1, 2, 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--register-every", type=int, default=0,
                        help="nomul's pipelining (0: combinational, like da4ml's designs)")
    parser.add_argument("--adders", choices=("binary", "ternary"), default="ternary",
                        help="nomul's adders (default ternary: three-input adders of Xilinx "
                        "LUT6_2 + CARRY4 where a node is read once; binary: portable Verilog)")
    parser.add_argument("--work", type=Path, default=default_work())
    args = parser.parse_args()
    layers = [int(v) for v in args.layers.split(",")]
    if not set(layers) <= set(LAYERS):
        parser.error(f"--layers: choose from {sorted(LAYERS)}")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    z, model = shared_model(work)
    options = {"register_every": args.register_every, "group_inputs": "auto",
               "adders": args.adders}
    design = nomul.lower(model, **options)
    exact = nomul_bit_exact(design, z, work)
    stages = [plan for name, plan in design.stages if name.startswith("layer_")]
    entries = []
    for layer in layers:
        da_verilog, da_info = da4ml_design(work, LAYERS[layer])
        da = synth_cached(work, da_verilog, f"da_{LAYERS[layer]}")
        plan = stages[layer - 1]
        start = time.process_time()
        verilog = emit_verilog(component(plan), f"nomul_layer{layer}")
        emit_cpu = time.process_time() - start
        ours = synth_cached(work, verilog, f"nomul_layer{layer}")
        da_exact = all(da_info["bit_exact"].values())
        estimate = estimate_stage(plan, FAMILY)["luts"]
        entries.append({
            "layer": layer, "da4ml_design": LAYERS[layer], "options": options,
            "da4ml_luts": da["luts"], "nomul_luts": ours["luts"],
            "ratio": round(ours["luts"] / da["luts"], 3),
            "da4ml_carry4": da["carry"], "nomul_carry4": ours["carry"],
            "da4ml_ffs": da["ffs"], "nomul_ffs": ours["ffs"],
            "da4ml_adders": da["adders"], "nomul_adders": ours["adders"] + len(plan.fused),
            "nomul_ternary_adders": len(plan.fused),
            "nomul_graph_nodes": len(plan.nodes), "nomul_latency": plan.latency,
            "nomul_estimate_luts": estimate,
            "estimate_error": round((estimate - ours["luts"]) / ours["luts"], 3),
            "nomul_emit_cpu_s": round(emit_cpu, 2),
            "bit_exact": {"nomul": exact, "da4ml": da_exact},
        })
    total = {key: sum(e[key] for e in entries) for key in ("da4ml_luts", "nomul_luts",
                                                              "da4ml_ffs", "nomul_ffs")}
    total["ratio"] = round(total["nomul_luts"] / total["da4ml_luts"], 3)
    result = {"family": FAMILY, "machine": f"{platform.machine()} {os.cpu_count()} cores, "
              f"Python {platform.python_version()}", "layers": entries, "total": total}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{'layer':<6}{'da4ml LUT':>10}{'nomul LUT':>10}{'ratio':>7}{'da4ml C4':>9}"
              f"{'nomul C4':>9}{'da4ml FF':>9}{'nomul FF':>9}{'da4ml add':>10}"
              f"{'nomul add':>10}{'estimate':>10}  bit-exact")
        for e in entries:
            print(f"{e['layer']:<6}{e['da4ml_luts']:>10}{e['nomul_luts']:>10}{e['ratio']:>7}"
                  f"{e['da4ml_carry4']:>9}{e['nomul_carry4']:>9}{e['da4ml_ffs']:>9}"
                  f"{e['nomul_ffs']:>9}{e['da4ml_adders']:>10}{e['nomul_adders']:>10}"
                  f"{e['nomul_estimate_luts']:>10}  "
                  f"nomul {e['bit_exact']['nomul']}, da4ml {e['bit_exact']['da4ml']}")
        print(f"{'sum':<6}{total['da4ml_luts']:>10}{total['nomul_luts']:>10}"
              f"{total['ratio']:>7}   nomul options {options}")
    ok = all(e["bit_exact"]["nomul"] and e["bit_exact"]["da4ml"] for e in entries)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
