# SPDX-License-Identifier: MIT
"""The Python API: the README's "Use from Python" snippet, run exactly as written, and the
API's refusals."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import nomul

README = Path(__file__).resolve().parents[1] / "README.md"


def _snippet():
    text = README.read_text()
    section = text[text.index("## Use from Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_snippet_runs_as_written(tmp_path, monkeypatch):
    """train -> lower -> write_verilog -> simulate -> estimate, bit-exact against the
    reference, without a single UnusedElaboratable warning (the estimate builds no
    component)."""
    import gc

    monkeypatch.chdir(tmp_path)
    scope = {}
    gc.collect()                  # objects other tests left behind warn now, not below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(_snippet(), "README.md", "exec"), scope)   # asserts bit-exactness
        gc.collect()
    assert [w for w in caught if "UnusedElaboratable" in str(w.category)] == []
    assert (tmp_path / "build" / "digits" / "nomul_top.v").is_file()
    assert scope["manifest"]["ii"] == scope["design"].ii
    assert scope["cost"]["multipliers"] == 0 and scope["cost"]["luts"] > 0


def test_the_snippet_covers_the_pipeline():
    code = _snippet()
    for call in ("nomul.train(", "nomul.lower(", "nomul.write_verilog(", "nomul.simulate(",
                 "nomul.estimate(", "nomul.reference("):
        assert call in code, call
    assert len(code.strip().splitlines()) <= 20


def test_lower_takes_options_or_keywords_not_both():
    from nomul.models.spec import InputSpec
    from nomul.models.synthetic import random_model

    model = random_model("16-4-2", InputSpec(shape=(16,), raw_min=0, raw_max=7), seed=1)
    design = nomul.lower(model, arch="folded", pe=2, name="top")
    assert design.name == "top" and design.ii == 16 * (4 // 2)     # groups x output tiles
    with pytest.raises(nomul.OptionsError, match="not both"):
        nomul.lower(model, nomul.BuildOptions(), arch="folded")
    with pytest.raises(nomul.OptionsError, match="lower: "):
        nomul.lower(model, colour="blue")
    with pytest.raises(nomul.OptionsError, match="pe does not apply"):
        nomul.lower(model, pe=2)


def test_simulate_then_estimate_leaves_no_unused_component(tmp_path):
    """Simulating and then estimating in one process (the issue's UnusedElaboratable
    warnings): the estimate costs plans and builds nothing."""
    import gc

    from nomul.models.spec import InputSpec
    from nomul.models.synthetic import random_model

    model = random_model("8-4-3", InputSpec(shape=(8,), raw_min=0, raw_max=7), seed=1)
    raw = np.random.default_rng(0).integers(0, 8, size=(3, 8))
    gc.collect()                  # objects other tests left behind warn now, not below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        design = nomul.lower(model, arch="folded")
        run = nomul.simulate(design, raw, simulator="amaranth")
        cost = nomul.estimate(design, "ecp5")
        gc.collect()
    assert run.outputs == nomul.reference(model, raw).tolist()
    assert cost["luts"] > 0 and cost["multipliers"] == 0
    assert [w for w in caught if "UnusedElaboratable" in str(w.category)] == []
