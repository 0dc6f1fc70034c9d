# SPDX-License-Identifier: MIT
"""The handshake of a one-register streaming stage, shared by the latency-1 components."""

__all__ = ["register_stage"]


def register_stage(m, i, o):
    """Wire ``i``/``o`` as one pipeline register: ``i.ready`` while the output register is
    empty or being taken, ``o.valid`` loaded from ``i.valid`` then. Returns the enable under
    which the caller loads ``o.payload`` (``m.d.sync`` inside ``m.If(enable)``)."""
    enable = ~o.valid | o.ready
    m.d.comb += i.ready.eq(enable)
    with m.If(enable):
        m.d.sync += o.valid.eq(i.valid)
    return enable
