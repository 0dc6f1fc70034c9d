# SPDX-License-Identifier: MIT
"""Every cache is safe under concurrency and corruption (:mod:`nomul.cache`).

The mechanism itself is checked with a fake build that writes its file slowly and counts its
runs in a file: processes and threads asking for one entry at once build it exactly once and
all get the complete entry; a failed, killed or incomplete build leaves nothing; a corrupt
entry (truncated file, missing file, missing or foreign stamp) is rebuilt. The slow tests do
the same with the real caches: several processes simulating one network at once through the
fast harness and through cocotb's Verilator build, then a truncated harness, which must be
refused and rebuilt, never run.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nomul import cache
from nomul.cache import STAMP, CacheEntry, cached_entry
from nomul.errors import ToolError

KEY = "entry"
CHUNKS = 20

# A fake build: counts itself, then writes out.bin slowly (half-made for a while).
FAKE = f"""
import os, time

def build(directory, count, fail=False, pause=0.02):
    with open(count, "a") as handle:
        handle.write(f"{{os.getpid()}}\\n")
    with open(directory / "out.bin", "wb") as handle:
        for k in range({CHUNKS}):
            handle.write(bytes([k]) * 4096)
            handle.flush()
            time.sleep(pause)
    if fail:
        raise RuntimeError("the fake build failed")
"""
EXPECTED = b"".join(bytes([k]) * 4096 for k in range(CHUNKS))

# A process: wait at a barrier (one file per process), then ask for the entry.
CHILD = FAKE + """
import hashlib, pathlib, sys
from nomul.cache import cached_entry

root, count, barrier, n, me, pause = sys.argv[1:]
barrier = pathlib.Path(barrier)
(barrier / me).touch()
deadline = time.monotonic() + 60
while len(list(barrier.iterdir())) < int(n) and time.monotonic() < deadline:
    time.sleep(0.005)
path = cached_entry(root, "entry", lambda d: build(d, count, pause=float(pause)),
                    required=("out.bin",))
print(path, hashlib.sha256((path / "out.bin").read_bytes()).hexdigest())
"""


def _fake_build(count, **kwargs):
    scope = {}
    exec(FAKE, scope)           # the same fake build as the child processes run
    return lambda directory: scope["build"](directory, count, **kwargs)


def _builds(count):
    return len(count.read_text().splitlines()) if count.exists() else 0


def _leftovers(root):
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".")) if root.exists() \
        else []


def _start(tmp_path, n, pause=0.02, name="barrier"):
    barrier = tmp_path / name
    barrier.mkdir()
    return [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "cache"),
                              str(tmp_path / "count"), str(barrier), str(n), str(k),
                              str(pause)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for k in range(n)]


def test_processes_asking_at_once_build_once_and_all_get_the_complete_entry(tmp_path):
    processes = _start(tmp_path, 4)
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(out.split())
    entry = tmp_path / "cache" / KEY
    assert results == [[str(entry), hashlib.sha256(EXPECTED).hexdigest()]] * 4
    assert _builds(tmp_path / "count") == 1
    assert (entry / "out.bin").read_bytes() == EXPECTED
    assert CacheEntry(tmp_path / "cache", KEY, required=("out.bin",)).complete()
    assert _leftovers(tmp_path / "cache") == []


def test_threads_asking_at_once_build_once(tmp_path):
    count = tmp_path / "count"
    barrier = threading.Barrier(4)
    paths, errors = [], []

    def ask():
        barrier.wait()
        try:
            paths.append(cached_entry(tmp_path, KEY, _fake_build(count), required=("out.bin",)))
        except Exception as error:     # reported below
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert paths == [tmp_path / KEY] * 4
    assert _builds(count) == 1
    assert (tmp_path / KEY / "out.bin").read_bytes() == EXPECTED


def test_a_complete_entry_is_not_rebuilt(tmp_path):
    count = tmp_path / "count"
    first = cached_entry(tmp_path / "c", KEY, _fake_build(count), required=("out.bin",))
    stamp = json.loads((first / STAMP).read_text())
    assert stamp["key"] == KEY
    assert stamp["files"] == {"out.bin": hashlib.sha256(EXPECTED).hexdigest()}
    second = cached_entry(tmp_path / "c", KEY, _fake_build(count), required=("out.bin",))
    assert first == second and _builds(count) == 1
    entry = CacheEntry(tmp_path / "c", KEY, required=("out.bin",))
    entry.invalidate()
    assert not first.exists() and _leftovers(tmp_path / "c") == []
    assert entry.get(_fake_build(count, pause=0)) == first and _builds(count) == 2


def test_a_failed_build_leaves_no_entry_and_no_temporary_directory(tmp_path):
    count, root = tmp_path / "count", tmp_path / "cache"
    with pytest.raises(RuntimeError, match="the fake build failed"):
        cached_entry(root, KEY, _fake_build(count, fail=True), required=("out.bin",))
    assert not (root / KEY).exists()
    assert _leftovers(root) == []
    assert cached_entry(root, KEY, _fake_build(count), required=("out.bin",)) == root / KEY
    assert _builds(count) == 2


def test_a_build_missing_a_required_file_leaves_no_entry(tmp_path):
    with pytest.raises(FileNotFoundError, match="made no harness"):
        cached_entry(tmp_path, KEY, lambda d: (d / "other").write_text("x"),
                     required=("harness",))
    assert not (tmp_path / KEY).exists()
    assert _leftovers(tmp_path) == []


def _truncate(entry):
    os.truncate(entry / "out.bin", 1000)


def _remove_stamp(entry):
    (entry / STAMP).unlink()


def _remove_file(entry):
    (entry / "out.bin").unlink()


def _garble_stamp(entry):
    (entry / STAMP).write_text('{"files": ')


def _foreign_stamp(entry):
    stamp = json.loads((entry / STAMP).read_text())
    (entry / STAMP).write_text(json.dumps({**stamp, "key": "another"}))


def _overwrite(entry):
    (entry / "out.bin").write_bytes(EXPECTED[::-1])


@pytest.mark.parametrize("corrupt", [_truncate, _remove_stamp, _remove_file, _garble_stamp,
                                     _foreign_stamp, _overwrite],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_corrupt_entry_is_detected_and_rebuilt(tmp_path, corrupt):
    count, root = tmp_path / "count", tmp_path / "cache"
    entry = CacheEntry(root, KEY, required=("out.bin",))
    entry.get(_fake_build(count, pause=0))
    assert entry.complete() and entry.verify("out.bin")
    corrupt(entry.path)
    assert entry.problem() is not None
    assert not entry.complete() and not entry.verify("out.bin")
    assert entry.get(_fake_build(count, pause=0)) == entry.path
    assert _builds(count) == 2
    assert entry.complete() and (entry.path / "out.bin").read_bytes() == EXPECTED
    assert _leftovers(root) == []


def test_an_entry_killed_while_building_is_rebuilt_and_its_leftovers_deleted(tmp_path):
    root = tmp_path / "cache"
    (process,) = _start(tmp_path, 1, pause=30)        # would take 10 minutes
    deadline = time.monotonic() + 60
    while not _leftovers(root) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [name.startswith(f".{KEY}.tmp-") for name in _leftovers(root)] == [True]
    while (not list(root.glob(f".{KEY}.tmp-*/out.bin")) and process.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.01)                                # the half-made file exists
    process.kill()
    process.communicate()
    assert not (root / KEY).exists()
    count = tmp_path / "count"
    assert cached_entry(root, KEY, _fake_build(count, pause=0), required=("out.bin",)) \
        == root / KEY
    assert _builds(count) == 2
    assert (root / KEY / "out.bin").read_bytes() == EXPECTED
    assert _leftovers(root) == []


def test_waiting_for_another_builder_and_building_show_progress(tmp_path, monkeypatch):
    from contextlib import contextmanager

    import nomul.progress

    shown = []

    @contextmanager
    def step(description, **kwargs):
        shown.append(description)
        yield lambda n=1: None

    monkeypatch.setattr(nomul.progress, "step", step)
    entry = CacheEntry(tmp_path, KEY, required=("out.bin",))
    held, release = threading.Event(), threading.Event()

    def hold():
        with CacheEntry(tmp_path, KEY).locked():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    threading.Timer(0.3, release.set).start()
    entry.get(_fake_build(tmp_path / "count", pause=0), description="building the fake")
    holder.join()
    assert shown == [f"waiting for another nomul process building {entry.path}",
                     "building the fake"]


@pytest.mark.parametrize("key", ["", ".hidden", "a/b", "x.lock"])
def test_keys_are_single_plain_names(tmp_path, key):
    with pytest.raises(ValueError, match="invalid cache key"):
        CacheEntry(tmp_path, key)


def test_the_root_is_nomul_cache_or_the_home_cache(monkeypatch, tmp_path):
    from nomul.sim.fast import default_cache

    monkeypatch.setenv("NOMUL_CACHE", str(tmp_path))
    assert cache.cache_root() == tmp_path and default_cache() == tmp_path / "sim"
    monkeypatch.delenv("NOMUL_CACHE")
    assert cache.cache_root() == Path.home() / ".cache" / "nomul"


# --- the real caches -----------------------------------------------------------------------

# A process simulating a small random MLP (its own Verilog) through ``simulate``, after a
# barrier; every cache entry published is counted in a file.
SIMULATE = """
import json, pathlib, sys, time
import numpy as np
import nomul.cache
from nomul.design import BuildOptions, lower
from nomul.models.spec import InputSpec
from nomul.models.synthetic import random_model
from nomul.sim.hardware import simulate

simulator, work, count, barrier, n, me = sys.argv[1:]
publish = nomul.cache.CacheEntry._publish

def counted(self, directory):
    with open(count, "a") as handle:
        handle.write(self.key + "\\n")
    publish(self, directory)

nomul.cache.CacheEntry._publish = counted
model = random_model("6-4-3", InputSpec(shape=(6,), raw_min=-4, raw_max=11), act_levels=3,
                     weight_levels=4, seed=3)
raw = np.random.default_rng(0).integers(-4, 12, size=(10, 6))
barrier = pathlib.Path(barrier)
(barrier / me).touch()
deadline = time.monotonic() + 120
while len(list(barrier.iterdir())) < int(n) and time.monotonic() < deadline:
    time.sleep(0.01)
run = simulate(lower(model, BuildOptions(input_lanes=3)), raw, simulator=simulator,
               work_dir=pathlib.Path(work), idle=0.2, stall=0.2, seed=1)
print(json.dumps({"outputs": run.outputs, "inputs": run.stream.input_cycles,
                  "cycles": run.stream.output_cycles}))
"""


def _network():
    from nomul.models.spec import InputSpec
    from nomul.models.synthetic import random_model

    model = random_model("6-4-3", InputSpec(shape=(6,), raw_min=-4, raw_max=11), act_levels=3,
                         weight_levels=4, seed=3)
    return model, np.random.default_rng(0).integers(-4, 12, size=(10, 6))


def _simulate_at_once(tmp_path, simulator, n=3):
    barrier, cache_root = tmp_path / "barrier", tmp_path / "cache"
    barrier.mkdir()
    env = {**os.environ, "NOMUL_CACHE": str(cache_root)}
    processes = [subprocess.Popen([sys.executable, "-c", SIMULATE, simulator,
                                   str(tmp_path / f"work{k}"), str(tmp_path / "count"),
                                   str(barrier), str(n), str(k)], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for k in range(n)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    return results, cache_root / "sim"


def _entries(root):
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.mark.slow
def test_processes_simulating_one_design_at_once_build_the_harness_once(tmp_path, monkeypatch):
    from nomul.design import BuildOptions, lower
    from nomul.sim.fast import run_harness
    from nomul.sim.hardware import simulate
    from nomul.sim.vectors import expected_outputs

    model, raw = _network()
    results, root = _simulate_at_once(tmp_path, "fast")
    assert results[0]["outputs"] == expected_outputs(model, raw)
    assert results == [results[0]] * 3
    (entry,) = _entries(root)
    assert (tmp_path / "count").read_text().splitlines() == [entry.name]
    assert _leftovers(root) == []
    harness = entry / "harness"
    assert CacheEntry(root, entry.name, required=("harness",)).complete()
    size, inode = harness.stat().st_size, harness.stat().st_ino

    os.truncate(harness, size // 2)           # a half-written executable is never run
    with pytest.raises(ToolError, match="broken"):
        run_harness(harness, [0], 1, tmp_path / "refused")
    assert not (tmp_path / "refused" / "outputs.txt").exists()

    monkeypatch.setenv("NOMUL_CACHE", str(tmp_path / "cache"))
    again = simulate(lower(model, BuildOptions(input_lanes=3)), raw, simulator="fast",
                     work_dir=tmp_path / "again", idle=0.2, stall=0.2, seed=1)
    assert again.outputs == results[0]["outputs"]
    assert again.stream.output_cycles == results[0]["cycles"]
    assert harness.stat().st_ino != inode and harness.stat().st_size == size    # rebuilt
    assert CacheEntry(root, entry.name, required=("harness",)).verify("harness")
    assert _entries(root) == [entry] and _leftovers(root) == []


@pytest.mark.slow
@pytest.mark.parametrize("body, message, logged", [
    # Yosys refuses the Verilog before Verilator runs
    ("assign o = ;", r"Yosys could not prepare bad for the Verilator harness; see ",
     "syntax error"),
    # valid Verilog without the stream ports: the harness's C++ does not compile
    ("assign o = clk;", r"Verilator could not build the harness for bad; see ",
     "has no member named"),
])
def test_a_failed_harness_build_names_its_log_and_caches_nothing(tmp_path, body, message,
                                                                 logged):
    from nomul.sim.fast import build_harness

    verilog = tmp_path / "bad.v"
    verilog.write_text(f"module bad(input clk, output o);\n  {body}\nendmodule\n")
    root = tmp_path / "cache"
    with pytest.raises(ToolError, match=message) as raised:
        build_harness(verilog, "bad", cache_dir=root)
    log = Path(str(raised.value).rsplit("see ", 1)[1])
    assert log.parent == root and log.name.endswith(".failed.log")
    assert logged in log.read_text()
    assert _entries(root) == [] and _leftovers(root) == []


@pytest.mark.parametrize("simulator, executable", [
    pytest.param("verilator", "nomul_top", marks=pytest.mark.slow),
    pytest.param("icarus", "sim.vvp", marks=[pytest.mark.slow, pytest.mark.skipif(
        shutil.which("iverilog") is None, reason="Icarus Verilog is not installed")]),
])
def test_processes_simulating_one_design_at_once_build_the_cocotb_model_once(
        tmp_path, simulator, executable):
    from nomul.sim.vectors import expected_outputs

    model, raw = _network()
    results, root = _simulate_at_once(tmp_path, simulator)
    assert results[0]["outputs"] == expected_outputs(model, raw)
    assert results == [results[0]] * 3
    (entry,) = _entries(root)
    assert entry.name.startswith(f"cocotb-{simulator}-nomul_top-")
    assert (tmp_path / "count").read_text().splitlines() == [entry.name]
    assert CacheEntry(root, entry.name, required=(executable,)).complete()
    assert _leftovers(root) == []
