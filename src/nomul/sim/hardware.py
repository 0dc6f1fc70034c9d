# SPDX-License-Identifier: MIT
"""A data set through a network's hardware, on any of the four simulators (``nomul sim``).

``fast`` is the compiled Verilator harness (:mod:`nomul.sim.fast`), ``verilator`` and
``icarus`` run the cocotb testbench (:mod:`nomul.sim.cocotb_stream`) on the same Verilog, and
``amaranth`` simulates the elaborated design in Python. All four report every transfer with its
cycle, so values, latency and II are checked the same way whichever ran.
"""

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import OptionsError
from .fast import build_harness, default_cache, run_harness
from .runner import require_simulator
from .streams import StreamRun
from .vectors import decode_outputs, input_words

__all__ = ["SIMULATORS", "HardwareRun", "simulate", "simulate_build", "simulate_component",
           "load_build"]

SIMULATORS = ("fast", "verilator", "icarus", "amaranth")


@dataclass
class HardwareRun:
    """What the hardware did with a batch of samples.

    ``outputs``: decoded as :func:`nomul.sim.vectors.decode_outputs`; ``stream``: the raw
    transfers and their cycles; ``cycles`` simulated in ``seconds`` of simulation (build time
    excluded); ``latency`` (first sample, idle pipeline) and ``ii`` (smallest interval between
    results) as measured.
    """

    simulator: str
    manifest: dict
    outputs: list
    stream: StreamRun
    cycles: int
    seconds: float

    @property
    def latency(self):
        beats = self.manifest["input"]["transfers_per_sample"]
        return self.stream.output_cycles[0] - self.stream.input_cycles[beats - 1]

    @property
    def ii(self):
        cycles = self.stream.output_cycles
        return min(b - a for a, b in zip(cycles, cycles[1:])) if len(cycles) > 1 else None

    @property
    def cycles_per_second(self):
        return self.cycles / self.seconds if self.seconds > 0 else float("inf")


def load_build(directory, model):
    """The manifest of a ``nomul build`` directory, checked to be a build of ``model``."""
    from ..design.lower import model_sha256

    path = Path(directory) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
        verilog = Path(directory) / f"{manifest['top']}.v"
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise OptionsError(f"{path}: not a nomul build manifest ({error})") from None
    if manifest.get("model_sha256") != model_sha256(model):
        raise OptionsError(f"{directory} was built from another model (its model_sha256 "
                           "differs); rebuild it or leave out --build")
    if not verilog.exists():
        raise OptionsError(f"{verilog}: missing; rebuild {directory}")
    manifest["verilog"] = str(verilog)
    return manifest


def _check(simulator, vcd):
    if simulator not in SIMULATORS:
        raise OptionsError(f"unknown simulator {simulator!r}; choose from "
                           f"{', '.join(SIMULATORS)}")
    if vcd is not None and simulator not in ("fast", "amaranth"):
        raise OptionsError("vcd works with the fast and amaranth simulators")
    if simulator != "amaranth":                     # missing tools: say so before building
        require_simulator("icarus" if simulator == "icarus" else "verilator")


def simulate(design, raw, *, simulator="fast", work_dir=None, idle=0.0, stall=0.0, seed=0,
             vcd=None, cache_dir=None):
    """Run the samples ``raw`` (raw integers, samples on axis 0) through the hardware of a
    :class:`~nomul.design.Design`; return a :class:`HardwareRun`.

    ``fast``, ``verilator`` and ``icarus`` simulate its Verilog (written into ``work_dir``, a
    temporary directory when None); ``amaranth`` its elaborated top. ``idle``/``stall``: the
    probability of an idle input cycle / of output back-pressure per cycle (seeded by
    ``seed``); ``vcd`` writes a waveform (``fast`` and ``amaranth`` only).
    """
    _check(simulator, vcd)
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="nomul-sim-") as scratch:
            return simulate(design, raw, simulator=simulator, work_dir=scratch, idle=idle,
                            stall=stall, seed=seed, vcd=vcd, cache_dir=cache_dir)
    if simulator == "amaranth":
        return _simulate_amaranth(design, raw, idle, stall, seed, vcd)
    from ..gateware.emit import write_verilog

    manifest = write_verilog(design, Path(work_dir) / "rtl")
    return _simulate_verilog(manifest, raw, simulator, work_dir, idle, stall, seed, vcd,
                             cache_dir)


def simulate_build(model, manifest, raw, *, simulator="fast", work_dir=None, idle=0.0,
                   stall=0.0, seed=0, vcd=None, cache_dir=None):
    """:func:`simulate` for the Verilog of an earlier build (its ``manifest``, from
    :func:`load_build`); ``amaranth`` lowers ``model`` again with the manifest's options."""
    _check(simulator, vcd)
    if simulator == "amaranth":
        return _simulate_amaranth(design_of_build(model, manifest), raw, idle, stall, seed, vcd)
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="nomul-sim-") as scratch:
            return simulate_build(model, manifest, raw, simulator=simulator, work_dir=scratch,
                                  idle=idle, stall=stall, seed=seed, vcd=vcd,
                                  cache_dir=cache_dir)
    return _simulate_verilog(manifest, raw, simulator, work_dir, idle, stall, seed, vcd,
                             cache_dir)


def _simulate_verilog(manifest, raw, simulator, work_dir, idle, stall, seed, vcd, cache_dir):
    from ..progress import step

    work_dir = Path(work_dir)
    port = manifest["input"]
    words = input_words(raw, bits=port["bits"], lanes=port["lanes"])
    if simulator == "fast":
        executable = build_harness(manifest["verilog"], manifest["top"],
                                   cache_dir=cache_dir, trace=vcd is not None)
        with step(f"simulating {len(raw)} samples (compiled Verilator harness)"):
            run = run_harness(executable, words, len(raw), work_dir / "fast", idle=idle,
                              stall=stall, seed=seed, vcd=vcd,
                              max_cycles=cycle_budget(manifest, len(words), len(raw), idle,
                                                      stall))
        cycles, seconds = run.cycles, run.seconds
    else:
        run, cycles, seconds = _simulate_cocotb(manifest, words, len(raw), simulator,
                                                work_dir, cache_dir, idle, stall, seed)
    return HardwareRun(simulator, manifest, decode_outputs(manifest, run.outputs), run,
                       cycles, seconds)


def cycle_budget(manifest, words, count, idle, stall):
    """Cycles after which a simulation counts as stalled: the harness's own margin (1000 a
    transfer) or, for a slow design, four times its II a sample and its latency, stretched
    by the idle and stall draws."""
    slow = (manifest["latency"] + 4 * (count * manifest["ii"] + words)) / \
        ((1 - idle) * (1 - stall))
    return int(max(1000 + 1000 * (words + count), 1000 + slow))


def check_amaranth(design):
    """Refuse a design Amaranth's simulator cannot run: one with vendor primitives (an
    ``Instance`` is a black box to it, its outputs would read 0)."""
    if design.vendor is not None:
        raise OptionsError(f"the amaranth simulator cannot run {design.vendor} primitives "
                           f"(adders ternary); use fast, verilator or icarus")


def design_of_build(model, manifest):
    """The :class:`~nomul.design.Design` of an earlier build, lowered again from its
    manifest's options."""
    from ..design import BuildOptions, lower

    return lower(model, BuildOptions.from_description(manifest["options"]))


def _simulate_amaranth(design, raw, idle, stall, seed, vcd):
    from ..gateware.network import NetworkTop
    from ..progress import step
    from .streams import run_stream

    check_amaranth(design)
    top = NetworkTop(design)
    manifest = {"top": design.name, **design.ports(), "latency": design.latency,
                "ii": design.ii}
    words = input_words(raw, bits=design.raw.width, lanes=design.lanes)
    start = time.perf_counter()
    with step(f"simulating {len(raw)} samples in Amaranth's simulator"):
        run = run_stream(top, words, count=len(raw), idle=idle, stall=stall, seed=seed,
                         vcd=vcd)
    seconds = time.perf_counter() - start
    return HardwareRun("amaranth", manifest, decode_outputs(manifest, run.outputs), run,
                       run.output_cycles[-1], seconds)


def _simulate_cocotb(manifest, words, count, simulator, work_dir, cache_dir, idle, stall, seed):
    from .runner import run_cocotb_stream

    # a cache entry (nomul.cache): built once under a lock, stamped, published by a rename
    digest = hashlib.sha256(Path(manifest["verilog"]).read_bytes()).hexdigest()[:20]
    return run_cocotb_stream(
        manifest["verilog"], manifest["top"], words, count, simulator=simulator,
        work_dir=work_dir / simulator,
        build_dir=Path(cache_dir or default_cache()) / f"cocotb-{simulator}-{manifest['top']}-"
                                                       f"{digest}",
        idle=idle, stall=stall, seed=seed, ii=manifest["ii"])


def simulate_component(dut, payloads, *, simulator, work_dir, count=None, idle=0.0, stall=0.0,
                       seed=0, cache_dir=None):
    """Any stream component's emitted Verilog on ``fast``, ``verilator`` or ``icarus``.

    The Verilog counterpart of :func:`nomul.sim.streams.run_stream` (same arguments, same
    :class:`StreamRun`), so a component's Amaranth test can be repeated on its Verilog.
    """
    from ..gateware.emit import emit_verilog

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    verilog = work_dir / "dut.v"
    verilog.write_text(emit_verilog(dut, "dut"))
    count = len(payloads) if count is None else count
    ii = max(1, int(getattr(dut, "ii", 1)))
    if simulator == "fast":
        executable = build_harness(verilog, "dut", cache_dir=cache_dir)
        return run_harness(executable, payloads, count, work_dir / "fast", idle=idle,
                           stall=stall, seed=seed,
                           max_cycles=200 + 100 * (len(payloads) + count) * ii)
    from .runner import run_cocotb_stream

    run, _, _ = run_cocotb_stream(verilog, "dut", payloads, count, simulator=simulator,
                                  work_dir=work_dir / simulator, idle=idle, stall=stall,
                                  seed=seed, ii=ii)
    return run
