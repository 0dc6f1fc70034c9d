# SPDX-License-Identifier: MIT
"""``nomul sweep``: every point as training and estimating it alone gives, resumable,
deterministic, the same on a local pool and a Dask cluster; the Pareto fronts."""

import json
import os

import pytest

import nomul
from helpers import run_cli
from nomul.cli import main
from nomul.design import BuildOptions, LayerOptions
from nomul.errors import OptionsError
from nomul.explore.executors import run_tasks
from nomul.explore.pareto import pareto_front
from nomul.explore.sweep import SweepSpec, run_sweep
from nomul.hw.cost import design_cost
from nomul.hw.folding import choose_folding
from nomul.models.training.trainer import TrainConfig

SPEC = SweepSpec(dataset="digits", network="64-12-10", recipes=("tbnu", "nmnf"),
                 act_levels=(3,), weight_levels=(4,), builds=("folded", "ii:256"),
                 epochs=2, nonlinearity="clipped_relu")


def test_pareto_front_keeps_the_points_nothing_beats():
    points = [{"n": n, "int_accuracy": a, "cost": c} for n, (a, c) in enumerate(
        [(0.5, 10), (0.7, 10), (0.6, 20), (0.9, 30), (0.9, 25), (0.8, 5), (0.95, None)])]
    assert [p["n"] for p in pareto_front(points, "cost")] == [5, 4]
    ties = [{"n": 0, "int_accuracy": 0.5, "cost": 1}, {"n": 1, "int_accuracy": 0.5, "cost": 1}]
    assert [p["n"] for p in pareto_front(ties, "cost")] == [0]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sweep")
    return directory, run_sweep(SPEC, directory, jobs=2)


def test_every_point_is_what_training_and_estimating_it_alone_gives(swept):
    directory, summary = swept
    assert summary["points"] == 4 and summary["ok"] == 4 and summary["failed"] == []
    points = [json.loads(p.read_text()) for p in sorted((directory / "points").iterdir())]
    assert len(points) == 4
    for recipe in ("tbnu", "nmnf"):
        result = nomul.train("digits", arch="64-12-10", recipe=recipe, act_levels=3,
                             weight_levels=4, epochs=2, nonlinearity="clipped_relu")
        mine = [p for p in points if p["recipe"] == recipe]
        assert {p["int_accuracy"] for p in mine} == {result.int_accuracy}
        assert {p["float_accuracy"] for p in mine} == {result.float_accuracy}
        folded = next(p for p in mine if p["arch"] == "folded")
        design = nomul.lower(result.model, BuildOptions(default=LayerOptions(arch="folded")))
        assert folded["lut_equivalents"] == design_cost(design, "ice40")["lut_equivalents"]
        assert (folded["ii"], folded["latency"]) == (design.ii, design.latency)
        auto = next(p for p in mine if p["arch"] == "auto")
        chosen = nomul.lower(result.model, choose_folding(result.model, 256, "ice40").options)
        assert auto["ii"] == chosen.ii <= 256
    front = summary["pareto"]
    assert front == pareto_front(summary_points(directory), "lut_equivalents")
    assert summary["pareto_ii"] == pareto_front(summary_points(directory), "ii")
    header = (directory / "pareto.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["key", "recipe", "act_levels"]
    assert len((directory / "pareto.csv").read_text().splitlines()) == 1 + len(front)


def summary_points(directory):
    """Every point file of a sweep directory, in the grid order of points.csv."""
    order = [line.split(",")[0] for line in
             (directory / "points.csv").read_text().splitlines()[1:]]
    return [json.loads((directory / "points" / f"{key}.json").read_text()) for key in order]


def test_an_interrupted_sweep_does_only_what_is_missing(swept, tmp_path):
    directory, summary = swept
    copy = tmp_path / "copy"
    copy.mkdir()
    for sub in ("points", "models"):
        (copy / sub).mkdir()
        for f in (directory / sub).iterdir():
            (copy / sub / f.name).write_bytes(f.read_bytes())
    points = sorted((copy / "points").iterdir())
    points[0].unlink()                                 # as if stopped before this point
    kept = {p.name: p.stat().st_mtime_ns for p in points[1:]}
    models = {m.name: m.stat().st_mtime_ns for m in (copy / "models").iterdir()}
    again = run_sweep(SPEC, copy, jobs=1)
    assert (copy / "points.csv").read_bytes() == (directory / "points.csv").read_bytes()
    assert {p.name: p.stat().st_mtime_ns for p in points[1:]} == kept
    assert {m.name: m.stat().st_mtime_ns for m in (copy / "models").iterdir()} == models
    assert again["pareto"] == summary["pareto"]


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_same_points(swept, tmp_path):
    pytest.importorskip("distributed")
    directory, _ = swept
    summary = run_sweep(SPEC, tmp_path, executor="dask", jobs=2)
    assert summary["failed"] == []
    assert (tmp_path / "points.csv").read_bytes() == (directory / "points.csv").read_bytes()
    assert (tmp_path / "pareto.csv").read_bytes() == (directory / "pareto.csv").read_bytes()


def _flaky(task):
    if task == "raise":
        raise ValueError("a point that raises")
    if task == "die" and not os.environ.get("NOMUL_TEST_NO_DIE"):
        os._exit(3)                                  # the worker process dies
    return task * 2


def test_failed_and_killed_tasks_are_reported_and_never_lose_finished_ones():
    results = {index: (result, error) for index, result, error in
               run_tasks(_flaky, [1, "raise", 2, "die", 3], jobs=2)}
    assert results[0] == (2, None) and results[2] == (4, None) and results[4] == (6, None)
    assert results[1] == (None, "ValueError: a point that raises")
    assert results[3][0] is None and "died" in results[3][1]


def test_a_build_that_does_not_apply_is_recorded_not_fatal(tmp_path):
    spec = SweepSpec(**{**SPEC.__dict__, "recipes": ("tbnu",), "builds": ("folded:5x1",)})
    summary = run_sweep(spec, tmp_path)
    assert summary["ok"] == 0 and len(summary["failed"]) == 1
    assert "pe 5 does not divide the 12 outputs" in summary["failed"][0]["error"]


def test_ternary_builds_are_points_of_their_own_on_xilinx(tmp_path):
    spec = SweepSpec(**{**SPEC.__dict__, "recipes": ("tbnu",), "family": "xilinx",
                        "builds": ("unrolled", "unrolled:ternary")})
    summary = run_sweep(spec, tmp_path)
    assert summary["ok"] == 2 and summary["failed"] == []
    points = {p["arch"]: p for p in summary_points(tmp_path)}
    assert set(points) == {"unrolled", "unrolled ternary"}
    model = nomul.load(tmp_path / "models" / points["unrolled ternary"]["model"])
    for arch, adders in (("unrolled", None), ("unrolled ternary", "ternary")):
        design = nomul.lower(model, BuildOptions(default=LayerOptions(arch="unrolled",
                                                                      adders=adders)))
        assert points[arch]["luts"] == design_cost(design, "xilinx")["luts"]
    assert points["unrolled ternary"]["luts"] < points["unrolled"]["luts"]


@pytest.mark.parametrize("argv, message", [
    (["--builds", "folded:2y8"], "give unrolled, unrolled:ternary, folded, folded:PExSIMD"),
    (["--builds", "unrolled:ternary"], "sweep build unrolled:ternary: three-input adders are "
     "Xilinx primitives; give --family xilinx, not ice40"),
    (["--groups", "2"], "the grid is empty"),
    (["--recipes", "foo"], "unknown recipe 'foo'"),
    (["--scheduler", "tcp://x:1"], "--scheduler is for --executor dask"),
    (["--family", "virtex"], "unknown family 'virtex'"),
    (["--device", "up5k"], "--device constrains automatic folding"),
    (["--device", "ecp5-25k", "--target-ii", "64"], "device ecp5-25k is not an ice40 part"),
])
def test_bad_sweeps_are_one_line_before_any_training(capsys, tmp_path, monkeypatch, argv,
                                                    message):
    import nomul.models.training.trainer as trainer

    monkeypatch.setattr(trainer, "train", lambda *a, **k: pytest.fail("training started"))
    status, _, err = run_cli(capsys, "sweep", "--dataset", "digits", *argv, "-o", tmp_path / "s")
    assert status == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_spec_validates_its_training_configs():
    with pytest.raises(OptionsError, match="act_levels must be >= 2"):
        SweepSpec(**{**SPEC.__dict__, "act_levels": (1,)}).validate()
    assert SPEC.training_configs()[0] == TrainConfig(
        arch="64-12-10", recipe="tbnu", act_levels=3, weight_levels=4, epochs=2,
        nonlinearity="clipped_relu")


def test_a_target_throughput_on_the_command_line_adds_automatic_builds(capsys, tmp_path, swept):
    directory, summary = swept
    for sub in ("models",):                               # reuse the trained models
        (tmp_path / sub).mkdir()
        for f in (directory / sub).iterdir():
            (tmp_path / sub / f.name).write_bytes(f.read_bytes())
    status = main(["sweep", "--dataset", "digits", "--network", "64-12-10", "--recipes",
                   "tbnu,nmnf", "--act-levels", "3", "--weight-levels", "4", "--epochs", "2",
                   "--nonlinearity", "clipped_relu", "--builds", "folded",
                   "--target-throughput", "46875", "--clock-mhz", "12",    # 256 cycles
                   "-o", str(tmp_path), "--json"])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert out["points"] == 4 and out["failed"] == []
    assert (tmp_path / "points.csv").read_bytes() == (directory / "points.csv").read_bytes()


@pytest.mark.slow
def test_synth_measures_the_pareto_points_only(swept, tmp_path):
    directory, summary = swept
    for sub in ("points", "models"):
        (tmp_path / sub).mkdir()
        for f in (directory / sub).iterdir():
            (tmp_path / sub / f.name).write_bytes(f.read_bytes())
    measured = run_sweep(SPEC, tmp_path, synth=True)
    front = measured["pareto"]
    assert len(front) == len(summary["pareto"]) >= 1
    for point in front:
        assert point["synth_luts"] > 0 and point["synth_lut_equivalents"] > 0
    rows = (tmp_path / "pareto.csv").read_text().splitlines()
    assert rows[0].endswith("synth_luts,synth_ffs,synth_brams,synth_lut_equivalents,fmax_mhz")
    assert len(rows) == 1 + len(front)
    assert "synth_luts" not in (tmp_path / "points.csv").read_text()


def test_a_sweep_of_a_data_file_records_its_hash_and_reads_it_in_the_workers(tmp_path):
    from pathlib import Path

    from nomul.models.datafile import read_data

    wine = Path(__file__).resolve().parents[2] / "examples" / "wine.csv"
    spec = SweepSpec(data=str(wine), network="13-8-3", act_levels=(3,), weight_levels=(4,),
                     builds=("folded",), epochs=2, nonlinearity="clipped_relu")
    summary = run_sweep(spec, tmp_path, jobs=2)
    assert summary["ok"] == 1 and summary["spec"]["data_sha256"] == read_data(wine).sha256
    (point,) = summary["pareto"]
    result = nomul.train(str(wine), arch="13-8-3", recipe="tbnu", act_levels=3,
                         weight_levels=4, epochs=2, nonlinearity="clipped_relu")
    assert point["int_accuracy"] == result.int_accuracy
