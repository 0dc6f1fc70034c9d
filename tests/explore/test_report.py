# SPDX-License-Identifier: MIT
"""``nomul report``: one self-contained, reproducible HTML page that a browser renders with
every image loaded."""

import base64
import re
import shutil
import subprocess

import pytest

from helpers import digits_input_spec, run_cli
from nomul.cli import main
from nomul.explore.sweep import SweepSpec, run_sweep
from nomul.models.modelfile import save_model
from nomul.models.synthetic import random_model

CHECK = ('<script>window.addEventListener("load",function(){var i=Array.prototype.slice.call('
         'document.images);var ok=i.filter(function(x){return x.complete&&x.naturalWidth>0})'
         '.length;document.body.insertAdjacentHTML("beforeend","<div id=\\"nomul-check\\">'
         'images "+i.length+" loaded "+ok+"</div>")});</script>')




@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A model report and a sweep report, each written twice."""
    directory = tmp_path_factory.mktemp("report")
    model = save_model(random_model("64-8-10", digits_input_spec(), seed=2),
                       directory / "m.npz")
    run_sweep(SweepSpec(dataset="digits", network="64-8-10", act_levels=(2, 3),
                        weight_levels=(4,), builds=("folded",), epochs=1,
                        nonlinearity="clipped_relu"), directory / "sweep")
    written = {}
    for name, target in (("model", model), ("sweep", directory / "sweep")):
        for copy in ("a", "b"):
            path = directory / f"{name}-{copy}.html"
            assert main(["report", str(target), "-o", str(path)]) == 0
            written.setdefault(name, []).append(path)
    return written


@pytest.mark.parametrize("name, texts", [
    ("model", ["Cost on ice40 (analytical estimate)", "integer baseline", "nomul / LUT-eq",
               "Latency", "memory", "Not run"]),
    ("sweep", ["Pareto front: accuracy against LUT-equivalents", "2 points, 2 built"]),
])
def test_the_page_is_self_contained_and_reproducible(reports, name, texts):
    first, second = (path.read_text() for path in reports[name])
    assert first == second
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", first)
    images = re.findall(r'<img alt="[^"]*" src="([^"]+)"', first)
    assert len(images) == 2
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for text in texts:
        assert text in first


@pytest.mark.parametrize("name", ["model", "sweep"])
def test_a_headless_browser_renders_it_with_every_image(reports, name, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (CI installs Debian's chromium when it runs as root)")
    page = tmp_path / "page.html"
    page.write_text(reports[name][0].read_text().replace("</body>", CHECK + "</body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "nomul report" in dom
    assert 'id="nomul-check">images 2 loaded 2<' in dom


def test_report_refusals_are_one_line(capsys, tmp_path, reports):
    sweep = reports["sweep"][0].parent / "sweep"
    for argv, message in [
        ([sweep, "--pe", "2"], "--pe apply to a model, not to the sweep directory"),
        ([sweep, "--sim"], "--sim apply to a model"),
        ([tmp_path], "not a finished sweep directory"),
        ([reports["model"][0].parent / "m.npz", "--dataset", "digits"],
         "--dataset and --data choose the samples of --sim"),
    ]:
        status, _, err = run_cli(capsys, "report", *argv, "-o", tmp_path / "r.html")
        assert status == 2 and message in err and "Traceback" not in err, err
        assert not (tmp_path / "r.html").exists()


def test_a_model_without_a_multiplier_baseline_is_reported_alone(tmp_path):
    """Vector codebooks (group 2) have no multiplier baseline: the page says so."""
    from nomul.design import BuildOptions
    from nomul.explore.report import model_report, render

    path = save_model(random_model("64-6-10", digits_input_spec(), seed=4, group=2,
                                   act_levels=3, weight_levels=5), tmp_path / "pq.npz")
    report = model_report(path, BuildOptions(), "ice40")
    assert [d["name"] for d in report["designs"]] == ["nomul (product tables)"]
    assert "No multiplier baseline:" in render(report)
