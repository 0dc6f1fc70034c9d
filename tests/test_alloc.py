# SPDX-License-Identifier: MIT
"""nomul.alloc: the collector's thresholds are raised inside a phase and restored after it."""

import gc

import pytest

from nomul.alloc import YOUNG_THRESHOLD, few_collections


def test_thresholds_raised_inside_and_restored_after_also_on_an_error():
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    try:
        with few_collections():
            assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
            with few_collections():                  # nested: unchanged, then restored
                assert gc.get_threshold()[0] == YOUNG_THRESHOLD
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_threshold() == (700, *before[1:])
        with pytest.raises(ValueError), few_collections():
            raise ValueError("a failure inside the phase")
        assert gc.get_threshold() == (700, *before[1:])

        @few_collections()
        def phase():
            return gc.get_threshold()[0]

        assert phase() == YOUNG_THRESHOLD and gc.get_threshold()[0] == 700
    finally:
        gc.set_threshold(*before)


def test_the_nomul_command_leaves_its_objects_to_the_exit_after_a_complete_run(tmp_path):
    """``nomul.cli.entry`` (the console script) runs the command to its end, files written,
    then freezes what is left; ``main`` itself (what the tests call in-process) freezes
    nothing."""
    import subprocess
    import sys

    from helpers import random_model_file

    model = random_model_file(tmp_path / "m.npz", "16-8-4", 16)
    script = ("import gc, sys\n"
              "from nomul.cli import entry\n"
              f"sys.argv = ['nomul', 'build', {str(model)!r}, '-o', {str(tmp_path / 'out')!r}]\n"
              "status = entry()\n"
              "print('frozen', gc.get_freeze_count() > 0)\n"
              "sys.exit(status)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("frozen True")
    assert (tmp_path / "out" / "manifest.json").is_file()
    frozen = gc.get_freeze_count()
    from nomul.cli import main

    assert main(["info", str(model)]) == 0
    assert gc.get_freeze_count() == frozen
