# SPDX-License-Identifier: MIT
"""Seeded fuzzing of the model file format: every mutated file loads or is refused.

The mutations live in :mod:`helpers.fuzz` (shared with ``bench/fuzz_modelfile.py``, which runs
thousands of cases through ``nomul info``/``eval``/``build`` under an address limit). Here
``CHUNKS`` x ``CASES`` seeded cases go through :func:`~nomul.models.modelfile.load_model`:
each must load a valid model or raise a one-line :class:`~nomul.errors.NomulError` starting
with the path; anything else fails with the seed and the mutations, so it can be replayed
with ``fuzz_case(seed, base_models(), marker=...)``. No case may ever unpickle a member.
"""

import io
from collections import Counter

import numpy as np
import pytest

from helpers import fuzz
from nomul.errors import NomulError
from nomul.models.modelfile import load_model

CHUNKS = 10                     # parametrized, so that pytest -n can split them
CASES = 50                      # per chunk
FIRST_SEED = 1000


@pytest.fixture(scope="module")
def bases():
    return fuzz.base_models()


def test_base_models_load(bases, tmp_path):
    """Control: the unmutated files load."""
    for name, data in bases.items():
        path = tmp_path / f"{name}.npz"
        path.write_bytes(data)
        assert fuzz.outcome(path) == ("loaded", ""), name


def test_unpickling_marker_works(tmp_path):
    """Control: numpy's own pickle loading of such a member creates the marker."""
    marker = tmp_path / "unpickled"
    objects = np.empty(2, dtype=object)
    objects[:] = [fuzz.Unpickled(marker), fuzz.Unpickled(marker)]
    buffer = io.BytesIO()
    np.save(buffer, objects, allow_pickle=True)
    buffer.seek(0)
    np.load(buffer, allow_pickle=True)
    assert marker.is_dir()


def test_fuzzer_is_deterministic(bases, tmp_path):
    marker = tmp_path / "unpickled"
    for seed in range(FIRST_SEED, FIRST_SEED + 20):
        assert fuzz.fuzz_case(seed, bases, marker=marker) == \
            fuzz.fuzz_case(seed, bases, marker=marker)


@pytest.mark.parametrize("name", ["digits-mlp", "conv1d", "thresholds-group2"])
def test_pickled_members_are_refused_without_unpickling(name, bases, tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "pickled.npz"
    rng = np.random.default_rng(7)
    for _ in range(12):
        label, data = fuzz.pickled_member(bases[name], rng, {"marker": marker, "zeros": 1})
        path.write_bytes(data)
        kind, message = fuzz.outcome(path)
        assert kind == "refused", f"{label}: {message}"
        assert not marker.exists(), f"{label}: unpickled"
        with pytest.raises(NomulError, match="pickled objects and floats are refused|"
                                             "not a valid|holds|truncated"):
            load_model(path)


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_fuzzed_files_load_or_are_refused(chunk, bases, tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "case.npz"
    counts, failures = Counter(), []
    first = FIRST_SEED + chunk * CASES
    for seed in range(first, first + CASES):
        label, data = fuzz.fuzz_case(seed, bases, marker=marker)
        path.write_bytes(data)
        kind, detail = fuzz.outcome(path)
        counts[kind] += 1
        if kind == "other":
            failures.append(f"{label}: {detail}")
        if marker.exists():
            failures.append(f"{label}: a member was unpickled")
            marker.rmdir()
    assert not failures, "\n".join(failures)
    assert counts["refused"] >= CASES // 2, counts          # the mutations do damage
