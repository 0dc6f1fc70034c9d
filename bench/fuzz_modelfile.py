# SPDX-License-Identifier: MIT
"""Fuzz the model file format through the CLI: ``nomul info``, ``eval`` and ``build``.

Run: ``.venv/bin/python bench/fuzz_modelfile.py [--cases 3000] [--seed 0]`` (Linux: it forks).
The mutations are those of the test suite (``tests/helpers/fuzz.py``), here with compressible
members past the size limits (``--zeros``). Every case runs ``nomul.cli.main(["info", file])``
in a forked child under ``RLIMIT_AS`` (``--memory`` GiB, as the fuzzing campaign did); a
file that loads also runs ``eval --dataset digits`` and (the first ``--builds`` of them)
``build``. ``build`` runs under ``RLIMIT_DATA`` instead: Yosys runs in wasmtime, which
reserves more than 4 GiB of (inaccessible) address space and so cannot start under
``RLIMIT_AS``; ``RLIMIT_DATA`` bounds the memory actually written. Each child is classified
``ok`` (exit 0), ``one-line error`` (exit 2, one stderr line ``nomul: error: ...``) or
``other`` (a traceback, another status, a signal, a timeout: a finding, listed with its seed).
Prints the counts per command and outcome, and the worst peak RSS (above that of an idle forked
child, i.e. what the command itself added) and time, with their cases.
"""

import argparse
import os
import platform
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")    # before numpy: small address space
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers import fuzz  # noqa: E402
from nomul import cli  # noqa: E402

OUTCOMES = ("ok", "one-line error", "other")


def _idle_child_kib():
    """Peak RSS of a forked child that does nothing: the baseline of :func:`run_child`."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return os.wait4(pid, 0)[2].ru_maxrss


def run_child(argv, memory, timeout, workdir, limit=resource.RLIMIT_AS):
    """``(outcome, detail, seconds, extra KiB)`` of ``nomul.cli.main(argv)`` in a forked child
    whose ``limit`` (``RLIMIT_AS`` or ``RLIMIT_DATA``) is ``memory`` bytes."""
    errors = workdir / "stderr"
    baseline = _idle_child_kib()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:                                          # the child: never returns
        status = 3
        try:
            resource.setrlimit(limit, (memory, memory))
            null = os.open(os.devnull, os.O_WRONLY)
            err = os.open(errors, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(null, 1)
            os.dup2(err, 2)
            status = cli.main(argv)
        except BaseException:                             # noqa: BLE001 - the finding
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status if isinstance(status, int) else 3)
    deadline = start + timeout
    while True:
        waited, status, usage = os.wait4(pid, os.WNOHANG)
        if waited:
            break
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            return "other", f"timeout after {timeout} s", timeout, usage.ru_maxrss - baseline
        time.sleep(0.002)
    seconds = time.perf_counter() - start
    extra = usage.ru_maxrss - baseline
    text = errors.read_text(errors="replace") if errors.exists() else ""
    if os.WIFSIGNALED(status):
        return "other", f"killed by signal {os.WTERMSIG(status)}", seconds, extra
    code = os.WEXITSTATUS(status)
    if code == 0:
        return "ok", "", seconds, extra
    lines = text.splitlines()
    if code == 2 and len(lines) == 1 and lines[0].startswith("nomul: error: "):
        return "one-line error", lines[0], seconds, extra
    return "other", f"exit {code}: {text[-1500:]}", seconds, extra


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0, help="first case's seed")
    parser.add_argument("--zeros", type=int, default=1 << 28,
                        help="uncompressed bytes of a compressible member (default 256 MiB, "
                             "past LIMITS.array_bytes)")
    parser.add_argument("--memory", type=float, default=4.0, help="RLIMIT_AS in GiB")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per command")
    parser.add_argument("--builds", type=int, default=40, help="builds of loading files")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        sys.exit("fuzz_modelfile.py forks and reads /proc: Linux only")

    bases = fuzz.base_models()
    with tempfile.TemporaryDirectory(prefix="nomul-fuzz-") as tmp:
        workdir = Path(tmp)
        marker = workdir / "unpickled"
        memory = int(args.memory * (1 << 30))
        warm = workdir / "warm.npz"                      # imports happen once, in the parent
        warm.write_bytes(bases["digits-mlp"])
        with open(os.devnull, "w") as null:
            stdout, sys.stdout = sys.stdout, null
            try:
                cli.main(["eval", str(warm), "--dataset", "digits"])
                cli.main(["build", str(warm), "-o", str(workdir / "warm-build")])
            finally:
                sys.stdout = stdout
        counts = {command: Counter() for command in ("info", "eval", "build")}
        worst = {"memory": (float("-inf"), ""), "time": (0.0, "")}
        findings = []
        builds = 0
        started = time.perf_counter()
        for seed in range(args.seed, args.seed + args.cases):
            label, data = fuzz.fuzz_case(seed, bases, marker=marker, zeros=args.zeros)
            path = workdir / "case.npz"
            path.write_bytes(data)
            commands = [("info", ["info", str(path)])]
            for command, argv in commands:
                limit = resource.RLIMIT_DATA if command == "build" else resource.RLIMIT_AS
                outcome, detail, seconds, extra = run_child(argv, memory, args.timeout,
                                                            workdir, limit)
                counts[command][outcome] += 1
                where = f"{command}: {label}"
                worst["memory"] = max(worst["memory"], (extra, where))
                worst["time"] = max(worst["time"], (seconds, where))
                if outcome == "other":
                    findings.append(f"{where}\n    {detail.strip()}")
                if command == "info" and outcome == "ok":
                    commands.append(("eval", ["eval", str(path), "--dataset", "digits"]))
                    if builds < args.builds:
                        builds += 1
                        commands.append(("build", ["build", str(path), "-o",
                                                   str(workdir / f"build-{seed}")]))
            if marker.exists():
                findings.append(f"unpickled: {label}")
                marker.rmdir()
            if (seed - args.seed + 1) % 500 == 0:
                print(f"  {seed - args.seed + 1} cases, {time.perf_counter() - started:.0f} s",
                      file=sys.stderr)
        elapsed = time.perf_counter() - started

    print(f"machine: {platform.machine()} python {platform.python_version()}; "
          f"{args.cases} cases from seed {args.seed}, compressible members of {args.zeros} "
          f"bytes, RLIMIT_AS (build: RLIMIT_DATA) {args.memory:g} GiB, {elapsed:.0f} s")
    for command, outcomes in counts.items():
        print(f"{command:6s} " + ", ".join(f"{name}: {outcomes[name]}" for name in OUTCOMES))
    extra, where = worst["memory"]
    print(f"worst peak RSS added by a command: {extra / 1024:.1f} MiB ({where})")
    seconds, where = worst["time"]
    print(f"worst time: {seconds:.2f} s ({where})")
    print(f"findings: {len(findings)}")
    for finding in findings:
        print(f"  {finding}")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
