# SPDX-License-Identifier: MIT
"""Test vectors at a network top's ports, and the reference's answers in the same form.

The top reads a sample as ``transfers_per_sample`` words of ``lanes`` raw elements each (C
order, element 0 in the least significant bits, the last word zero-padded) and writes one word
per sample: the class index (argmax output) or every output element packed the same way (raw
output). ``manifest`` is a build manifest (:meth:`nomul.design.Design.describe`) or anything
with its ``"output"`` entry.
"""

from ..models import reference
from .streams import pack, unpack

__all__ = ["input_words", "decode_outputs", "expected_outputs"]


def input_words(raw, *, bits, lanes):
    """The input transfers of ``raw`` (samples on axis 0), ``lanes`` elements of ``bits`` bits
    per word (two's complement)."""
    words = []
    for sample in raw.reshape(len(raw), -1):
        padded = list(sample) + [0] * (-len(sample) % lanes)
        words += [pack(padded[b:b + lanes], bits) for b in range(0, len(padded), lanes)]
    return words


def decode_outputs(manifest, words):
    """The top's output words as reference-shaped values: class indices, or element lists."""
    output = manifest["output"]
    if output["kind"] == "argmax":
        return [int(word) for word in words]
    return [unpack(word, output["bits"], output["elements"], signed=output["signed"])
            for word in words]


def expected_outputs(model, raw):
    """What the reference says the top must output for ``raw``, in decode_outputs' form."""
    out = reference.run(model, raw)
    return out.tolist() if model.output == "argmax" else out.reshape(len(raw), -1).tolist()
