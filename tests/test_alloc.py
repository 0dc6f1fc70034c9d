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
