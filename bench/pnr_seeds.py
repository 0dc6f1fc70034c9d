# SPDX-License-Identifier: MIT
"""Place and route one folded design over several placer seeds: the Fmax spread.

nextpnr's seed moves a design's Fmax by 5-15 MHz on the UP5K (``bench/RESULTS.md``), more than
most single changes, so a timing change is judged on six seeds, not one. This script lowers a
model folded (the demo's digits MLP by default), synthesizes it once in nomul's pin shell and
places it once per seed through ``nomul.hw.pnr.place_and_route`` (what ``nomul estimate
--pnr`` runs). It prints the Fmax per seed, their mean, the Yosys cells and, per seed, the
critical path (delay, logic levels, routing, start and end cells).

    .venv/bin/python bench/pnr_seeds.py MODEL [--device up5k|ecp5-25k] [--freq MHZ]
        [--seeds 1,2,3,4,5,6] [--baseline codebook|integer] [--pe 1] [--simd 1]
        [--option weight_style=block ...] [--work DIR]
"""

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from nomul.api import load
from nomul.design import BuildOptions, LayerOptions, lower
from nomul.gateware.emit import design_verilog
from nomul.hw.pnr import DEVICES, critical_path, place_and_route


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--device", default="up5k", choices=sorted(DEVICES))
    parser.add_argument("--freq", type=int, default=100, help="nextpnr's target (MHz)")
    parser.add_argument("--seeds", default="1,2,3,4,5,6")
    parser.add_argument("--baseline", choices=("codebook", "integer"))
    parser.add_argument("--pe", type=int, default=1)
    parser.add_argument("--simd", type=int, default=1)
    parser.add_argument("--option", action="append", default=[],
                        help="a layer option as name=value (repeatable)")
    parser.add_argument("--work", help="keep the files here (default: a temporary folder)")
    args = parser.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    options = dict(option.split("=", 1) for option in args.option)
    design = lower(load(args.model), BuildOptions(default=LayerOptions(
        arch="folded", pe=args.pe, simd=args.simd, **options)), baseline=args.baseline)
    with tempfile.TemporaryDirectory(prefix="nomul-seeds-") as scratch:
        work = Path(args.work or scratch)
        work.mkdir(parents=True, exist_ok=True)
        (work / "top.v").write_text(design_verilog(design))
        start = time.perf_counter()
        placed = place_and_route(work / "top.v", design.name, design.in_port.bits,
                                 design.out_port.bits, args.device, work / "run",
                                 freq_mhz=args.freq, seeds=seeds)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        fmax = [placed["fmax_by_seed"][seed] for seed in seeds]
        print(f"{args.baseline or 'nomul'} PE {args.pe} x SIMD {args.simd} on {args.device}: "
              + " / ".join(f"{f:.2f}" for f in fmax) + f" MHz, mean {sum(fmax) / len(fmax):.1f}")
        cells = placed["cells"]
        print(f"cells: {cells['luts']} LUTs, {cells['ffs']} FFs, {cells['brams']} block RAMs, "
              f"{cells['dsps']} DSPs; {usage.ru_utime + usage.ru_stime:.0f} CPU-s (user + "
              f"sys), {time.perf_counter() - start:.0f} s wall")
        for seed in seeds:
            suffix = f"_{seed}" if len(seeds) > 1 else ""
            path = critical_path(json.loads((work / "run" / f"report{suffix}.json").read_text()))
            print(f"  seed {seed}: {placed['fmax_by_seed'][seed]:.2f} MHz, {path['delay_ns']} ns, "
                  f"{path['logic_levels']} levels, {path['routing_ns']} ns routing: "
                  f"{path['from']} -> {path['to']}")


if __name__ == "__main__":
    main()
