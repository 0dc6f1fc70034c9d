# SPDX-License-Identifier: MIT
"""Record the Verilog and the analytical estimates of a fixed set of designs, to prove that a
refactor leaves the hardware byte-identical (or to show exactly what a hardware change moved).

    python bench/golden_designs.py record DIR   # DIR/<design>.v, DIR/<design>.<family>.json
    python bench/golden_designs.py compare A B     # lists every file that differs

The set: the demo model (``make demo``'s digits MLP, trained here with the same command)
unrolled, folded PE 2 x SIMD 8, folded PE 1 x SIMD 1 and unrolled ``--group-inputs 2``; a random
conv2d + maxpool model unrolled and folded; each with its multiplier baseline; estimates on all
four families. Timing fields (``*_seconds``) are dropped from the estimates.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

FAMILIES = ("ice40", "ecp5", "xilinx", "gates")
DESIGNS = {
    "demo_unrolled": ("demo", ["--arch", "unrolled"]),
    "demo_folded_pe2_simd8": ("demo", ["--arch", "folded", "--pe", "2", "--simd", "8"]),
    "demo_folded_pe1_simd1": ("demo", ["--arch", "folded", "--pe", "1", "--simd", "1"]),
    "demo_grouped2": ("demo", ["--arch", "unrolled", "--group-inputs", "2"]),
    "conv_unrolled": ("conv", ["--arch", "unrolled"]),
    "conv_folded": ("conv", ["--arch", "folded", "--pe", "2", "--simd", "3,3,4"]),
}
NOMUL = [str(Path(sys.executable).with_name("nomul"))]


def _nomul(*args):
    return subprocess.run([*NOMUL, *args], check=True, capture_output=True, text=True).stdout


def _models(directory):
    demo, conv = directory / "demo.npz", directory / "conv.npz"
    if not demo.exists():
        _nomul("train", "--dataset", "digits", "--arch", "64-64-32-10", "--recipe", "tbnu",
               "--act-levels", "5", "--weight-levels", "8", "--seed", "0", "-o", str(demo))
    if not conv.exists():
        _nomul("random", "--arch", "1x8x8-c4k3p1-m2-c4k3-10", "--input-shape", "1x8x8",
               "--act-levels", "3", "--weight-levels", "4", "--seed", "3", "-o", str(conv))
    return {"demo": demo, "conv": conv}


def _strip_timing(value):
    if isinstance(value, dict):
        return {k: _strip_timing(v) for k, v in value.items() if not k.endswith("_seconds")}
    if isinstance(value, list):
        return [_strip_timing(v) for v in value]
    return value


def _baseline_verilog(model_path, options):
    """The multiplier baseline's Verilog (no CLI command emits it)."""
    code = """
import sys
import nomul
from nomul.cli import build_parser
from nomul.cli._common import build_options
from nomul.gateware.emit import design_verilog
args = build_parser().parse_args(["build", sys.argv[1], "-o", "x", *sys.argv[2:]])
model = nomul.load(sys.argv[1])
sys.stdout.write(design_verilog(nomul.lower(model, build_options(args, model),
                                            baseline="integer")))
"""
    return subprocess.run([sys.executable, "-c", code, str(model_path), *options], check=True,
                          capture_output=True, text=True).stdout


def record(directory):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    models = _models(directory)
    for name, (model, options) in DESIGNS.items():
        out = directory / f"build_{name}"
        _nomul("build", str(models[model]), "-o", str(out), *options)
        (directory / f"{name}.v").write_text((out / "nomul_top.v").read_text())
        (directory / f"{name}.baseline.v").write_text(_baseline_verilog(models[model], options))
        for family in FAMILIES:
            report = json.loads(_nomul("estimate", str(models[model]), "--family", family,
                                       "--baseline", "--json", *options))
            (directory / f"{name}.{family}.json").write_text(
                json.dumps(_strip_timing(report), indent=1, sort_keys=True) + "\n")
        print(f"recorded {name}", flush=True)


def compare(a, b):
    a, b = Path(a), Path(b)
    names = sorted({p.name for p in a.glob("*.v")} | {p.name for p in a.glob("*.json")}
                   | {p.name for p in b.glob("*.v")} | {p.name for p in b.glob("*.json")})
    differ = [n for n in names if not (a / n).exists() or not (b / n).exists()
              or (a / n).read_bytes() != (b / n).read_bytes()]
    print(f"{len(names) - len(differ)} of {len(names)} files identical")
    for name in differ:
        print(f"  differs: {name}")
    return 1 if differ else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("record").add_argument("directory")
    both = commands.add_parser("compare")
    both.add_argument("a")
    both.add_argument("b")
    args = parser.parse_args()
    if args.command == "record":
        record(args.directory)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
