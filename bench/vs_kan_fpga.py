# SPDX-License-Identifier: MIT
"""nomul against a published KAN-to-LUT compiler's own design: the same network, one Yosys flow.

The peer is KAN-FPGA (github.com/Duchstf/KAN-FPGA, the RTL flow of KANELE, FPGA 2026). It
compiles a trained Kolmogorov-Arnold network to one lookup table per edge (an
``xpm_memory_sprom`` ROM of the edge's function of its quantized input), sums each output's
edges and saturates the sum to 8 bits (``saturate(sum, 8)``) before the next layer and at the
outputs. Its generator writes VHDL. This script reads one of its firmware folders
(``--peer DIR``: ``DIR/src/{PkgKAN,PkgLUT,LUT_<l>,KAN}.vhd``, ``DIR/mem/lut_<l>_<i>_<j>.mem``),
then:

- builds the same integer function as a nomul model: per layer one table per edge (one
  codeword per edge) read at the address the peer's ``LUT_<l>.vhd`` computes (the input
  code, or ``d + 2**(bits - 1)``: the saturated value's level), and the saturation as
  ``2**bits - 1`` thresholds one apart (nomul builds them as a shift and clamp); checks the
  model against the peer's own test vectors (``DIR/sim/vectors_in.txt``, ``vectors_out.txt``)
  when they are there;
- converts the peer's VHDL to Verilog with GHDL (``ghdl --synth --out=verilog``, Debian's
  ``ghdl`` package: a bench-only tool), with a behavioural ``xpm_memory_sprom``
  (``bench/kan_fpga/``; Xilinx's own comes with Vivado) and the ports ``input`` and
  ``output`` renamed (Verilog keywords);
- simulates the peer's Verilog (Icarus) and nomul's (the compiled harness) on the same random
  inputs against nomul's reference: bit-exact, or the script exits with status 1;
- synthesizes both with the same flow (``nomul.hw.synth``: Yosys ``synth_xilinx``, what
  ``nomul estimate --family xilinx --synth`` runs) and prints LUT, FF and CARRY4 and nomul's
  ratios to the peer, for several nomul builds.

Run: ``.venv/bin/python bench/vs_kan_fpga.py --peer DIR [--samples N] [--json]``.
"""

import argparse
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import nomul
from nomul.design import BuildOptions, LayerOptions
from nomul.hw.synth import synthesize, synthesize_design
from nomul.models.spec import Activation, Dense, InputSpec, IntegerModel

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from build_bound import cpu_seconds  # noqa: E402
from kan_like import activation_estimate, synth_plan  # noqa: E402

FAMILY = "xilinx"
BUILDS = {       # nomul builds compared: name -> options
    "default (binary adders, registers every 3 levels)": BuildOptions(),
    "ternary adders, --register-every 0": BuildOptions(
        default=LayerOptions(adders="ternary", register_every=0)),
    "ternary, one register per layer (--sum-register off --input-register off)": BuildOptions(
        default=LayerOptions(adders="ternary", register_every=0, sum_register="off"),
        input_register=False),
    "binary, one register per layer": BuildOptions(
        default=LayerOptions(register_every=0, sum_register="off"), input_register=False),
}


def _constant(text, name):
    match = re.search(rf"constant\s+{name}\s*:\s*\w+\s*:=\s*(\d+)", text)
    if match is None:
        sys.exit(f"vs_kan_fpga: no constant {name} in the peer's packages")
    return int(match.group(1))


def _signed_words(path, bits):
    words = np.array([int(word, 16) for word in path.read_text().split()], dtype=np.int64)
    return np.where(words >= 1 << (bits - 1), words - (1 << bits), words)


def peer_network(peer):
    """The peer's network as read from its firmware folder: per layer ``(n_in, n_out, tables
    [out][in][address], address offset, read latency, saturation bits)`` and the input
    width."""
    src = peer / "src"
    packages = (src / "PkgKAN.vhd").read_text() + (src / "PkgLUT.vhd").read_text()
    top = (src / "KAN.vhd").read_text()
    saturation = {(int(l), int(j)): int(bits) for l, j, bits in
                  re.findall(r"saturate\(sum_(\d+)_(\d+),\s*(\d+)\)", top)}
    names = [re.fullmatch(r"lut_(\d+)_(\d+)_(\d+)", p.stem) for p in (peer / "mem").glob("*.mem")]
    edges = sorted(tuple(int(g) for g in m.groups()) for m in names if m)
    layers = []
    for layer in sorted({e[0] for e in edges}):
        n_in = 1 + max(i for l, i, _ in edges if l == layer)
        n_out = 1 + max(j for l, _, j in edges if l == layer)
        bits = _constant(packages, f"LUT_DATA_WIDTH_{layer}")
        address_bits = _constant(packages, f"LUT_ADDR_WIDTH_{layer}")
        tables = np.array([[_signed_words(peer / "mem" / f"lut_{layer}_{i}_{j}.mem", bits)
                            for i in range(n_in)] for j in range(n_out)])
        if tables.shape[2] != 1 << address_bits:
            sys.exit(f"vs_kan_fpga: layer {layer}'s tables have {tables.shape[2]} words, not "
                     f"2**{address_bits}")
        rtl = (src / f"LUT_{layer}.vhd").read_text()
        latency = int(re.search(r"READ_LATENCY\s*:\s*integer\s*:=\s*(\d+)", rtl).group(1))
        if latency > 1:
            sys.exit(f"vs_kan_fpga: LUT_{layer} reads with latency {latency}; the stand-in "
                     "ROM models 0 and 1")
        if re.search(r"d\s*\+\s*to_signed\(2\*\*\(LUT_ADDR_WIDTH_\d+-1\)", rtl):
            offset = 1 << (address_bits - 1)
        elif "std_logic_vector(d)" in rtl:
            offset = 0
        else:
            sys.exit(f"vs_kan_fpga: LUT_{layer}.vhd's address is neither d nor d + 2**(w-1)")
        widths = {saturation.get((layer, j)) for j in range(n_out)}
        if len(widths) != 1 or None in widths:
            sys.exit(f"vs_kan_fpga: layer {layer}'s outputs do not saturate to one width")
        sums = _constant(packages, f"SUM_WIDTH_{layer}_0")
        if n_in * np.abs(tables).max() >= 1 << (sums - 1):
            sys.exit(f"vs_kan_fpga: layer {layer}'s sums may wrap at {sums} bits")
        layers.append((n_in, n_out, tables, offset, latency, widths.pop()))
    return layers, _constant(packages, "INPUT_WIDTH")


def nomul_model(layers, input_bits):
    """The peer's network as a nomul integer model: a layer's input level is its address
    (the input code; a saturated value plus ``2**(bits - 1)``), its output level the
    saturated sum plus ``2**(bits - 1)``."""
    dense, levels = [], 1 << input_bits
    for position, (n_in, n_out, tables, offset, _, bits) in enumerate(layers):
        # the address of input level L: the code itself (layer 0), else the saturated value
        # L - levels / 2 plus the offset, modulo the table's size
        if position == 0 and offset:
            sys.exit("vs_kan_fpga: the first layer's address is not its input code")
        shift = 0 if position == 0 else (levels >> 1) - offset
        by_level = np.roll(tables, shift, axis=2)                 # by_level[L] = address's
        table = by_level.reshape(n_out * n_in, levels).T          # [level][edge]
        thresholds = np.tile(np.arange(1, 1 << bits) - (1 << (bits - 1)), (n_out, 1))
        dense.append(Dense(in_levels=levels, group=1, table=table,
                           weight_index=np.arange(n_in * n_out).reshape(n_out, n_in),
                           bias=np.zeros(n_out, dtype=np.int64),
                           activation=Activation("thresholds", thresholds)))
        levels = 1 << bits
    return IntegerModel(input=InputSpec(shape=(layers[0][0],), raw_min=0,
                                        raw_max=(1 << input_bits) - 1),
                        layers=tuple(dense), meta={"peer": "KAN-FPGA"})


def peer_outputs(model, raw, out_bits):
    """nomul's reference as the peer's signed outputs."""
    levels = np.asarray(nomul.reference(model, raw)).reshape(len(raw), -1)
    return levels - (1 << (out_bits - 1))


def check_test_vectors(peer, model, out_bits):
    """The peer's own test vectors against the model: True, False, or None (none given)."""
    inputs, outputs = peer / "sim" / "vectors_in.txt", peer / "sim" / "vectors_out.txt"
    if not (inputs.exists() and outputs.exists()):
        return None
    raw = np.atleast_2d(np.loadtxt(inputs, dtype=np.int64))
    expected = np.atleast_2d(np.loadtxt(outputs, dtype=np.int64))
    return bool((peer_outputs(model, raw, out_bits) == expected).all())


def peer_verilog(peer, work):
    """The peer's design as one Verilog file (GHDL), written in ``work``; its top is ``KAN``
    with ports ``clk``, ``en``, ``kan_input``, ``kan_output``."""
    if shutil.which("ghdl") is None:
        sys.exit("vs_kan_fpga: ghdl is not installed (Debian: apt-get install ghdl)")
    for mem in (peer / "mem").glob("*.mem"):
        text = mem.read_text()                        # GHDL's textio wants a last newline
        (work / mem.name).write_text(text if text.endswith("\n") else text + "\n")
    sources = []
    for name in ("PkgKAN", "PkgLUT", *sorted(p.stem for p in (peer / "src").glob("LUT_*.vhd")),
                 "KAN"):
        text = (peer / "src" / f"{name}.vhd").read_text()
        if name == "KAN":
            text = re.sub(r"\binput\b", "kan_input", re.sub(r"\boutput\b", "kan_output", text))
        (work / f"{name}.vhd").write_text(text)
        sources.append(f"{name}.vhd")
    ghdl = ["ghdl", "-a", "--std=08"]
    for command in ([*ghdl, "--work=xpm", str(HERE / "kan_fpga" / "xpm_vcomponents.vhd"),
                     str(HERE / "kan_fpga" / "xpm_memory_sprom.vhd")],
                    [*ghdl, *sources]):
        subprocess.run(command, cwd=work, check=True)
    verilog = subprocess.run(["ghdl", "--synth", "--std=08", "--out=verilog", "KAN"],
                             cwd=work, check=True, capture_output=True, text=True).stdout
    # without GHDL's comments (the VHDL source paths): Yosys's mapping moves by a few LUTs
    # with the netlist's text (2 764 to 2 824 LUTs seen for the same peer design), so the
    # file must not depend on where the peer's folder lies
    (work / "peer.v").write_text(re.sub(r"/\*.*?\*/", "", verilog))
    return work / "peer.v"


def simulate_peer(verilog, raw, input_bits, out_bits, n_out, work):
    """The peer's outputs for ``raw`` (Icarus): each vector applied, one clock edge (its
    registered ROM reads), then the outputs read. GHDL flattens a VHDL array with element 0 in
    the most significant bits."""
    n_in = raw.shape[1]
    words = ["".join(f"{int(v):0{input_bits}b}" for v in row) for row in raw]
    (work / "inputs.bin").write_text("\n".join(words) + "\n")
    (work / "tb.v").write_text(f"""
module tb;
  reg clk = 0;
  reg [{n_in * input_bits - 1}:0] x;
  wire [{n_out * out_bits - 1}:0] y;
  reg [{n_in * input_bits - 1}:0] vectors [0:{len(raw) - 1}];
  integer i, f;
  KAN dut(.clk(clk), .en(1'b1), .kan_input(x), .kan_output(y));
  initial begin
    $readmemb("inputs.bin", vectors);
    f = $fopen("outputs.bin", "w");
    for (i = 0; i < {len(raw)}; i = i + 1) begin
      x = vectors[i]; #1 clk = 1; #1 clk = 0; #1 $fwrite(f, "%b\\n", y);
    end
    $fclose(f);
    $finish;
  end
endmodule
""")
    subprocess.run(["iverilog", "-g2012", "-o", "tb.vvp", "tb.v", str(verilog)], cwd=work,
                   check=True)
    subprocess.run(["vvp", "-n", "tb.vvp"], cwd=work, check=True, stdout=subprocess.DEVNULL)
    rows = []
    for line in (work / "outputs.bin").read_text().split():
        fields = [int(line[k:k + out_bits], 2) for k in range(0, len(line), out_bits)]
        rows.append([v - (1 << out_bits) if v >> (out_bits - 1) else v for v in fields])
    return np.array(rows)


def _activations(design, work):
    """Per layer, the threshold stage (nomul's saturation) synthesized alone and its analytical
    estimate: ``{"unit", "luts", "est_luts", "error"}`` (the same unit in every build: the
    options compared do not change it)."""
    rows = []
    for position, (_, plan) in enumerate(design.stages[1:]):
        measured = synth_plan(plan.act, f"act{position}", FAMILY, work)
        estimate = activation_estimate(plan, FAMILY)
        rows.append({"unit": type(plan.act).__name__, "luts": measured["luts"],
                     "est_luts": estimate["luts"],
                     "error": round((estimate["luts"] - measured["luts"]) / measured["luts"], 3)})
    return rows


def _counts(report):
    return {key: report[key] for key in ("luts", "ffs", "carry")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, required=True,
                        help="the peer's firmware folder (src/*.vhd, mem/*.mem)")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    layers, input_bits = peer_network(args.peer)
    out_bits, n_out = layers[-1][5], layers[-1][1]
    model = nomul_model(layers, input_bits)
    vectors = check_test_vectors(args.peer, model, out_bits)
    raw = np.random.default_rng(0).integers(0, 1 << input_bits,
                                            size=(args.samples, layers[0][0]))
    expected = peer_outputs(model, raw, out_bits)
    result = {"machine": f"{platform.machine()}, Python {platform.python_version()}",
              "network": [f"{n_in} -> {n}" for n_in, n, *_ in layers],
              "peer_test_vectors": vectors, "samples": args.samples, "builds": []}
    with tempfile.TemporaryDirectory(prefix="nomul-kan-fpga-") as scratch:
        work = Path(scratch)
        (work / "peer").mkdir()
        verilog = peer_verilog(args.peer, work / "peer")
        result["peer_bit_exact"] = bool((simulate_peer(
            verilog, raw, input_bits, out_bits, n_out, work / "peer") == expected).all())
        start = cpu_seconds()
        peer = synthesize(verilog, "KAN", FAMILY, work / "peer_synth")
        result["peer"] = {**_counts(peer), "latency": sum(la for *_, la, _ in layers),
                          "synth_cpu_s": round(cpu_seconds() - start, 1)}
        levels = (expected + (1 << (out_bits - 1))).tolist()      # nomul's output levels
        for name, options in BUILDS.items():
            design = nomul.lower(model, options)
            exact = nomul.simulate(design, raw, simulator="fast").outputs == levels
            build_work = work / f"nomul_{len(result['builds'])}"
            counts = _counts(synthesize_design(design, FAMILY, build_work)["total"])
            result["builds"].append({"name": name, "options": options.describe(), **counts,
                                     "latency": design.latency, "bit_exact": exact,
                                     **{f"{k}_ratio": round(counts[k] / result["peer"][k], 3)
                                        for k in ("luts", "ffs")}})
            print(json.dumps(result["builds"][-1]), file=sys.stderr, flush=True)
            if "activations" not in result:
                result["activations"] = _activations(design, build_work)
    exact = result["peer_bit_exact"] and vectors is not False and \
        all(b["bit_exact"] for b in result["builds"])
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        peer = result["peer"]
        print(f"network {', '.join(result['network'])}; the peer's test vectors: {vectors}; "
              f"{args.samples} random samples bit-exact: peer RTL {result['peer_bit_exact']}, "
              f"nomul {all(b['bit_exact'] for b in result['builds'])}")
        print(f"{'design':<78}{'LUT':>7}{'FF':>6}{'CARRY4':>8}{'latency':>9}{'LUT x':>7}"
              f"{'FF x':>6}")
        print(f"{'peer (KAN-FPGA RTL, GHDL)':<78}{peer['luts']:>7}{peer['ffs']:>6}"
              f"{peer['carry']:>8}{peer['latency']:>9}")
        for b in result["builds"]:
            print(f"{'nomul ' + b['name']:<78}{b['luts']:>7}{b['ffs']:>6}{b['carry']:>8}"
                  f"{b['latency']:>9}{b['luts_ratio']:>7.3f}{b['ffs_ratio']:>6.3f}")
        print("threshold stages alone, per layer (Yosys LUT / estimate / error): " + "; ".join(
            f"{a['unit']} {a['luts']} / {a['est_luts']} / {a['error']:+.0%}"
            for a in result["activations"]))
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
