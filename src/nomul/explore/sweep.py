# SPDX-License-Identifier: MIT
"""``nomul sweep``: accuracy and hardware cost over a grid of training and build choices.

A :class:`SweepSpec` names the data (a bundled dataset or a data file), the training grid
(recipes x activation levels x weight levels x groups, one network architecture, one seed)
and the builds of every trained model (unrolled; folded at fixed PE x SIMD; folded
automatically at target IIs, :func:`nomul.hw.folding.choose_folding`) on one family. A *task*
is one training configuration: it trains the model (or reads it back from ``DIR/models``,
where models are kept by the content hash of everything that determines them) and estimates
every build of it (analytical, milliseconds to seconds); each build is a *point*. Tasks run on
a local process pool or Dask (:mod:`.executors`).

Output in ``DIR`` (:func:`run_sweep`):

- ``points/<key>.json``: one file per finished point, written as its task finishes (an
  interrupted sweep loses nothing finished; run again, it does only what is missing);
- ``points.csv``: every point of the spec (:data:`POINT_FIELDS`), in grid order;
- ``pareto.csv``: the points not beaten in both integer test accuracy and LUT-equivalents,
  cheapest first, and with ``synth``/``pnr`` their Yosys counts and Fmax; ``pareto_ii.csv``
  the same against the II (throughput: a sample every II cycles);
- ``sweep.json``: the spec, the counts, both fronts (against LUT-equivalents and against
  II) and the failed points with their errors.

Deterministic: the same spec gives the same points and files in any executor and job count
(training is seeded and single-threaded; results are ordered by the grid, not by finishing).
"""

import csv
import hashlib
import itertools
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import OptionsError
from .executors import run_tasks
from .pareto import pareto_front

__all__ = ["SweepSpec", "run_sweep", "POINT_FIELDS", "evaluate_task"]

POINT_FIELDS = ("key", "recipe", "act_levels", "weight_levels", "group", "arch", "pe", "simd",
                "target_ii", "float_accuracy", "int_accuracy", "table_entries", "memory_bits",
                "luts", "ffs", "brams", "dsps", "gates", "lut_equivalents", "latency", "ii",
                "fits", "model", "error")
PARETO_EXTRA = ("synth_luts", "synth_ffs", "synth_brams", "synth_lut_equivalents",
                "fmax_mhz")
FORMAT = 1


@dataclass(frozen=True)
class SweepSpec:
    """Everything that determines a sweep's points (see the module)."""

    dataset: str | None = None
    data: str | None = None
    network: str | None = None              # the arch string (the CLI: the dataset's default)
    recipes: tuple = ("tbnu",)
    act_levels: tuple = (4,)
    weight_levels: tuple = (8,)
    groups: tuple = (1,)
    builds: tuple = ("unrolled", "folded")  # unrolled[:ternary], folded, folded:PExSIMD, ii:T
    family: str = "ice40"
    device: str | None = None               # automatic folding within this part's budget
    epochs: int | None = None               # the CLI: the dataset's default
    seed: int = 0
    nonlinearity: str | None = None         # the CLI: the dataset's default
    data_sha256: str | None = field(default=None, compare=False)

    def validate(self):
        """One-line errors for a spec that cannot run, before any work."""
        from ..hw import families

        if (self.dataset is None) == (self.data is None):
            raise OptionsError("sweep: give a dataset or a data file, one of them")
        if not self.network or not self.nonlinearity or not self.epochs:
            raise OptionsError("sweep: the network, its nonlinearity and the epochs must be "
                               "given (the CLI takes them from the dataset's defaults)")
        if self.family not in families.FAMILIES:
            raise OptionsError(f"unknown family {self.family!r}")
        if self.device is not None:
            from ..hw.folding import device_family

            if device_family(self.device) != self.family:
                raise OptionsError(f"device {self.device} is not an {self.family} part")
            if not any(b.startswith("ii:") for b in self.builds):
                raise OptionsError("--device constrains automatic folding: add ii:CYCLES "
                                   "builds (--target-ii)")
        if not self.builds:
            raise OptionsError("sweep: no builds")
        for build in self.builds:
            if _parse_build(build).get("adders") and self.family != "xilinx":
                raise OptionsError(f"sweep build {build}: three-input adders are Xilinx "
                                   f"primitives; give --family xilinx, not {self.family}")
        configs = self.training_configs()
        if not configs:
            raise OptionsError("sweep: the grid is empty (a group above 1 needs the pq recipe)")
        for config in configs:
            config.validate()

    def training_configs(self):
        """The TrainConfig of every training point, in grid order."""
        from ..models.training.trainer import TrainConfig

        configs = []
        for recipe, a, k, g in itertools.product(self.recipes, self.act_levels,
                                                 self.weight_levels, self.groups):
            if g > 1 and recipe != "pq":
                continue                      # grouping is product quantization's
            configs.append(TrainConfig(arch=self.network, recipe=recipe, act_levels=a,
                                       weight_levels=k, group=g, seed=self.seed,
                                       epochs=self.epochs, nonlinearity=self.nonlinearity))
        return configs


def _parse_build(text):
    """``unrolled`` | ``unrolled:ternary`` (three-input adders, Xilinx) | ``folded`` (PE 1 x
    SIMD 1) | ``folded:PExSIMD`` | ``ii:T`` (automatic)."""
    if text == "unrolled":
        return {"arch": "unrolled"}
    if text == "unrolled:ternary":
        return {"arch": "unrolled", "adders": "ternary"}
    if text == "folded":
        return {"arch": "folded", "pe": 1, "simd": 1}
    kind, _, value = text.partition(":")
    try:
        if kind == "folded":
            pe, simd = (int(v) for v in value.lower().split("x"))
            if pe >= 1 and simd >= 1:
                return {"arch": "folded", "pe": pe, "simd": simd}
        elif kind == "ii" and int(value) >= 1:
            return {"arch": "auto", "target_ii": int(value)}
    except ValueError:
        pass
    raise OptionsError(f"sweep build {text!r}: give unrolled, unrolled:ternary, folded, "
                       f"folded:PExSIMD (e.g. folded:2x8) or ii:CYCLES (automatic folding)")


def _digest(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:20]


def _config_fields(config):
    fields = asdict(config)
    if isinstance(fields["weight_levels"], tuple):
        fields["weight_levels"] = list(fields["weight_levels"])
    return fields


def _data_identity(spec):
    from .. import __version__

    source = {"dataset": spec.dataset} if spec.dataset else {"data_sha256": spec.data_sha256}
    return {**source, "nomul": __version__, "format": FORMAT}


def _tasks(spec, models_dir):
    builds = [_parse_build(b) for b in spec.builds]
    tasks = []
    for config in spec.training_configs():
        fields = _config_fields(config)
        model_key = _digest({"data": _data_identity(spec), "train": fields})
        tasks.append({"dataset": spec.dataset, "data": spec.data, "config": fields,
                      "model_key": model_key, "models_dir": str(models_dir),
                      "family": spec.family, "device": spec.device,
                      "builds": [{**b, "key": _digest({"model": model_key, "build": b,
                                                       "family": spec.family,
                                                       **({"device": spec.device}
                                                          if spec.device else {})})}
                                 for b in builds]})
    return tasks


def _load_data(task):
    from ..models.datafile import load_data
    from ..models.datasets import load_dataset

    return load_dataset(task["dataset"]) if task["dataset"] else load_data(task["data"])


def _trained_model(task):
    """The task's model and its accuracies: read back from the models directory when there,
    else trained and stored (atomically) there."""
    from .. import api
    from ..models.modelfile import ModelFileError
    from ..models.training.trainer import TrainConfig

    path = Path(task["models_dir"]) / f"{task['model_key']}.npz"
    if path.is_file():
        try:
            model = api.load(path)
            accuracy = model.meta["accuracy"]
            return model, accuracy["float_accuracy"], accuracy["int_accuracy"], path
        except (ModelFileError, KeyError, TypeError):
            pass                               # a damaged entry: train again
    result = api.train(_load_data(task), TrainConfig(**task["config"]))
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    api.save(result.model, tmp)
    os.replace(tmp, path)
    return result.model, result.float_accuracy, result.int_accuracy, path


def evaluate_task(task):
    """Train (or reuse) one model and estimate each of its builds: the task's points."""
    from .. import api
    from ..design import BuildOptions, LayerOptions
    from ..hw.cost import design_cost
    from ..hw.folding import choose_folding
    from ..models.info import model_info

    model, float_accuracy, int_accuracy, path = _trained_model(task)
    info = model_info(model)
    config = task["config"]
    common = {"recipe": config["recipe"], "act_levels": config["act_levels"],
              "weight_levels": config["weight_levels"], "group": config["group"],
              "float_accuracy": float_accuracy, "int_accuracy": int_accuracy,
              "table_entries": info["table_entries"], "memory_bits": info["memory_bits"],
              "model": path.name}
    points = []
    for build in task["builds"]:
        label = f"{build['arch']} ternary" if build.get("adders") else build["arch"]
        point = {**common, "key": build["key"], "arch": label,
                 "pe": build.get("pe"), "simd": build.get("simd"),
                 "target_ii": build.get("target_ii"), "error": None}
        try:
            if build["arch"] == "auto":
                options = choose_folding(model, build["target_ii"], task["family"],
                                         device=task.get("device")).options
            else:
                options = BuildOptions(default=LayerOptions(
                    arch=build["arch"], pe=build.get("pe"), simd=build.get("simd"),
                    adders=build.get("adders")))
            design = api.lower(model, options)
            cost = design_cost(design, task["family"])
            point.update({key: cost.get(key) for key in ("luts", "ffs", "brams", "dsps",
                                                          "gates", "lut_equivalents",
                                                          "fits")})
            point.update(latency=design.latency, ii=design.ii)
        except OptionsError as error:           # this build does not apply to this model
            point["error"] = str(error)
        points.append(point)
    return points


def _point_path(out_dir, key):
    return Path(out_dir) / "points" / f"{key}.json"


def _read_point(out_dir, key):
    path = _point_path(out_dir, key)
    try:
        point = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return point if isinstance(point, dict) and point.get("key") == key else None


def _write_json(path, data):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def run_sweep(spec, out_dir, *, executor="local", jobs=1, scheduler=None, synth=False,
              pnr=False, progress=None):
    """Run the sweep ``spec`` into ``out_dir`` (see the module); returns the summary written to
    ``sweep.json``. ``progress(done, total)`` is called as points finish."""
    if spec.data is not None:
        from ..models.datafile import read_data

        spec = SweepSpec(**{**asdict(spec), "data_sha256": read_data(spec.data).sha256})
    spec.validate()
    out_dir = Path(out_dir)
    (out_dir / "points").mkdir(parents=True, exist_ok=True)
    (out_dir / "models").mkdir(exist_ok=True)
    tasks = _tasks(spec, out_dir / "models")
    total = sum(len(t["builds"]) for t in tasks)
    missing = []                             # each task with only its builds not yet done
    for task in tasks:
        builds = [b for b in task["builds"] if _read_point(out_dir, b["key"]) is None]
        if builds:
            missing.append({**task, "builds": builds})
    done = total - sum(len(t["builds"]) for t in missing)
    start = time.perf_counter()
    if progress:
        progress(done, total)
    failed_tasks = {}
    for index, points, error in run_tasks(evaluate_task, missing, executor=executor,
                                          jobs=jobs, scheduler=scheduler):
        if error is not None:                   # the task failed: recorded, not stored
            failed_tasks[index] = error
            continue
        for point in points:
            _write_json(_point_path(out_dir, point["key"]), point)
        done += len(points)
        if progress:
            progress(done, total)
    failed_builds = {build["key"]: failed_tasks[index] for index, task in enumerate(missing)
                     if index in failed_tasks for build in task["builds"]}
    points = []
    for task in tasks:
        for build in task["builds"]:
            point = _read_point(out_dir, build["key"])
            if point is None:
                error = failed_builds.get(build["key"])
                point = {"key": build["key"], **{k: task["config"][k] for k in
                         ("recipe", "act_levels", "weight_levels", "group")},
                         "arch": build["arch"], "pe": build.get("pe"),
                         "simd": build.get("simd"), "target_ii": build.get("target_ii"),
                         "error": error or "not run"}
            points.append(point)
    ok = [p for p in points if p.get("error") is None]
    front = pareto_front(ok, "lut_equivalents")
    front_ii = pareto_front(ok, "ii")
    if synth or pnr:
        _measure_front(front, out_dir, spec.family, synth=synth, pnr=pnr, device=spec.device)
    _write_csv(out_dir / "points.csv", points, POINT_FIELDS)
    _write_csv(out_dir / "pareto.csv", front,
               POINT_FIELDS + (PARETO_EXTRA if synth or pnr else ()))
    _write_csv(out_dir / "pareto_ii.csv", front_ii, POINT_FIELDS)
    summary = {"format": FORMAT, "spec": {k: v for k, v in asdict(spec).items()},
               "points": len(points), "ok": len(ok),
               "failed": [{"key": p["key"], "error": p["error"]} for p in points
                          if p.get("error") is not None],
               "pareto": front, "pareto_ii": front_ii,
               "seconds": round(time.perf_counter() - start, 1)}
    _write_json(out_dir / "sweep.json", summary)
    return summary


def _measure_front(front, out_dir, family, *, synth, pnr, device=None):
    """Yosys counts (and Fmax with ``pnr``) of the Pareto points, rebuilt from their models."""
    from .. import api
    from ..design import BuildOptions, LayerOptions
    from ..hw.cost import design_cost
    from ..hw.folding import choose_folding

    for point in front:
        model = api.load(Path(out_dir) / "models" / point["model"])
        if point["arch"] == "auto":
            options = choose_folding(model, point["target_ii"], family, device=device).options
        else:
            options = BuildOptions(default=LayerOptions(arch=point["arch"], pe=point["pe"],
                                                        simd=point["simd"]))
        cost = design_cost(api.lower(model, options), family, synth=True, pnr=pnr)
        point.update(synth_luts=cost.get("luts"), synth_ffs=cost.get("ffs"),
                     synth_brams=cost.get("brams"),
                     synth_lut_equivalents=cost.get("lut_equivalents"),
                     fmax_mhz=cost.get("fmax_mhz"))


def _write_csv(path, rows, columns):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
    os.replace(tmp, path)


def _cell(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "/".join(str(v) for v in value)
    return value
