# SPDX-License-Identifier: MIT
"""Shared test helpers: an independent loop-based reference and random model builders."""


def digits_input_spec():
    """The 8x8 digits input: 64 pixels 0..16, identity quantizer."""
    from nomul.models.spec import InputSpec

    return InputSpec(shape=(64,), raw_min=0, raw_max=16)
