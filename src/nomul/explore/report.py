# SPDX-License-Identifier: MIT
"""``nomul report``: one self-contained HTML page of a model as built, or of a sweep.

:func:`model_report` gathers the model (input, layers, tables, memory against float32, the
operations per inference), the design (options, latency, II, throughput per MHz and at Fmax
when placed), its cost per stage beside the two multiplier baselines with nomul's ratios,
Fmax and the critical path when placed (``pnr``), and the simulation's agreement with the
reference and its accuracy when run (``sim``). :func:`sweep_report` reads a ``nomul sweep``
directory: the spec, every point, and the Pareto plots of accuracy against LUT-equivalents
and against II. :func:`render` turns either into HTML (Jinja2, ``report.html.j2`` beside
this module, the plots as PNGs embedded as
``data:`` URIs): one file to mail or attach, nothing fetched when it opens. The same inputs
give the same bytes (no dates; PNGs written without metadata).
"""

import base64
import io
import json
from importlib import resources
from pathlib import Path

from ..errors import OptionsError

__all__ = ["model_report", "sweep_report", "render", "write_report"]

COUNTS = ("luts", "ffs", "carry", "brams", "dsps", "multipliers", "lut_equivalents")


def _png(figure):
    """A matplotlib figure as a ``data:image/png`` URI (no metadata: reproducible bytes)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight",
                   metadata={"Software": None})
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width=6.0, height=3.4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def model_report(model_path, options, family, *, synth=False, pnr=False, sim=None,
                 work_dir=None):
    """The report data of the model at ``model_path`` built with ``options`` on ``family``;
    ``sim``: a dataset (its test split is simulated in the compiled harness) or None."""
    import numpy as np

    from .. import api
    from ..design.lower import baseline_model
    from ..hw.cost import DESIGN_LABELS, cost_report
    from ..models.info import model_info
    from ..progress import step

    model = api.load(model_path)
    info = model_info(model)
    design = api.lower(model, options)
    baseline_note = None
    with step("report: cost of nomul and both baselines"):
        try:
            baseline_model(model)
        except OptionsError as error:       # e.g. vector codebooks: no multiplier baseline
            baseline_note = str(error)
        cost = cost_report(model, options, family, synth=synth, pnr=pnr,
                           baseline=baseline_note is None, work_dir=work_dir, design=design)
    designs = [(name, cost[name] if name != "nomul" else cost)
               for name in ("nomul", "codebook_baseline", "baseline")
               if name == "nomul" or name in cost]
    fmax = cost.get("fmax_mhz")
    report = {
        "kind": "model", "title": Path(model_path).name, "family": family,
        "source": "Yosys" if cost["source"] == "yosys" else "analytical estimate",
        "model": info, "meta": {k: model.meta.get(k) for k in ("recipe", "dataset", "accuracy",
                                                              "act_levels", "weight_levels")
                                if model.meta.get(k) is not None},
        "design": design.describe(),
        "timing": {"latency": design.latency, "ii": design.ii,
                   "samples_per_cycle": 1 / design.ii,
                   "fmax_mhz": fmax,
                   "samples_per_second": None if fmax is None else fmax * 1e6 / design.ii,
                   "latency_us": None if fmax is None else design.latency / fmax,
                   "critical_path": cost.get("critical_path")},
        "designs": [{"name": DESIGN_LABELS[name], **{k: d.get(k) for k in COUNTS},
                     "stages": d["stages"], "fits": d.get("fits"), "device": d.get("device"),
                     "short": d.get("short"), "fmax_mhz": d.get("fmax_mhz")}
                    for name, d in designs],
        "simulation": None,
        "baseline_note": baseline_note,
    }
    nomul = report["designs"][0]
    for d in report["designs"][1:]:
        d["ratio_luts"] = nomul["luts"] / max(d["luts"], 1)
        d["ratio_lut_equivalents"] = nomul["lut_equivalents"] / max(d["lut_equivalents"], 1)
    if sim is not None:
        with step("report: simulating the test split"):
            run = api.simulate(design, sim.x_test)
        expected = api.reference(model, sim.x_test)
        same = [got == want for got, want in zip(run.outputs, expected.tolist(), strict=True)]
        report["simulation"] = {
            "samples": len(same), "agreement": sum(same) / len(same),
            "accuracy": float(np.mean(np.asarray(run.outputs) == sim.y_test))
            if expected.ndim == 1 else None,
            "latency": run.latency, "ii": run.ii}
    report["plots"] = _model_plots(report)
    return report


def _model_plots(report):
    plots = []
    fig, ax = _figure()
    names = [d["name"].split(" (")[0] for d in report["designs"]]
    ax.bar(names, [d["lut_equivalents"] for d in report["designs"]],
           color=["#2a7", "#a72", "#27a"][:len(names)])
    ax.set_ylabel("LUT-equivalents")
    ax.set_title(f"{report['title']} on {report['family']}: nomul and the baselines")
    plots.append({"title": "LUT-equivalents of nomul and the multiplier baselines",
                  "src": _png(fig)})
    fig, ax = _figure()
    stages = report["designs"][0]["stages"]
    ax.barh([s["stage"] for s in stages][::-1], [s["luts"] for s in stages][::-1],
            color="#2a7")
    ax.set_xlabel("LUTs")
    ax.set_title("nomul per stage")
    plots.append({"title": "nomul's LUTs per stage", "src": _png(fig)})
    return plots


def sweep_report(directory):
    """The report data of a ``nomul sweep`` directory (its ``sweep.json`` and points)."""
    directory = Path(directory)
    try:
        summary = json.loads((directory / "sweep.json").read_text())
    except (OSError, ValueError) as error:
        raise OptionsError(f"{directory}: not a finished sweep directory (sweep.json: "
                           f"{str(error).splitlines()[0]})") from None
    if not isinstance(summary, dict) or "pareto" not in summary or "spec" not in summary:
        raise OptionsError(f"{directory}: sweep.json is not a nomul sweep summary")
    points = []
    for key in _csv_keys(directory / "points.csv"):
        try:
            points.append(json.loads((directory / "points" / f"{key}.json").read_text()))
        except (OSError, ValueError):
            continue
    ok = [p for p in points if p.get("error") is None]
    report = {"kind": "sweep", "title": directory.name, "spec": summary["spec"],
              "points": points, "ok": len(ok), "failed": summary.get("failed", []),
              "pareto": summary["pareto"], "pareto_ii": summary.get("pareto_ii", [])}
    report["plots"] = [_scatter(ok, summary["pareto"], "lut_equivalents",
                                "LUT-equivalents (log)", "accuracy against LUT-equivalents"),
                       _scatter(ok, summary.get("pareto_ii", []), "ii",
                                "II, cycles per sample (log)", "accuracy against II")]
    return report


def _csv_keys(path):
    import csv

    try:
        with open(path, newline="") as handle:
            return [row["key"] for row in csv.DictReader(handle)]
    except (OSError, KeyError):
        return []


def _scatter(points, front, cost, label, title):
    fig, ax = _figure(6.5, 4.0)
    archs = sorted({p["arch"] for p in points})
    recipes = sorted({p["recipe"] for p in points})
    for arch, color in zip(archs, ["#27a", "#a72", "#2a7", "#777"]):
        for recipe, marker in zip(recipes, "os^Dv<>"):
            mine = [p for p in points if p["arch"] == arch and p["recipe"] == recipe]
            if mine:
                ax.scatter([p[cost] for p in mine], [100 * p["int_accuracy"] for p in mine],
                           s=18, color=color, marker=marker, label=f"{arch}, {recipe}",
                           alpha=0.7)
    if front:
        ax.plot([p[cost] for p in front], [100 * p["int_accuracy"] for p in front], "k-",
                drawstyle="steps-post", linewidth=1, marker="o", markersize=9,
                markerfacecolor="none", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("integer test accuracy (%)")
    ax.set_title(title)
    if points or front:
        ax.legend(fontsize=8)
    return {"title": title, "src": _png(fig)}




def render(report):
    """The HTML text of a report (see the module)."""
    import jinja2

    from .. import __version__

    template = resources.files(__package__).joinpath("report.html.j2").read_text("utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
    return environment.from_string(template).render(r=report, version=__version__)


def write_report(report, path):
    """Write the report's HTML to ``path`` atomically; returns the path."""
    import os

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(render(report), encoding="utf-8")
    os.replace(tmp, path)
    return path
