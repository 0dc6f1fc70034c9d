# SPDX-License-Identifier: MIT
"""Verilog emission and the build manifest (``nomul build``).

The same model and options give byte-identical files: Amaranth's output is deterministic and
source locations are left out (``emit_src=False``), so the text does not depend on where nomul
is installed.
"""

import hashlib
import json
from pathlib import Path

from amaranth.back import verilog

from ..errors import NomulError
from ..gateware.compile import build_network
from ..numeric import Bounds

__all__ = ["build", "emit_verilog", "ports"]


def emit_verilog(top, name):
    """Verilog text of a component, top module ``name`` (ports ``clk``, ``rst``, ``i__*``,
    ``o__*``)."""
    return verilog.convert(top, name=name, emit_src=False)


def ports(model, top):
    """The top's stream ports as the manifest states them: ``{"input": ..., "output": ...}``."""
    spec = model.input
    raw = Bounds(spec.raw_min, spec.raw_max)
    if model.output == "argmax":
        output = {"kind": "argmax", "elements": 1, "bits": top.o.payload.shape().width,
                  "classes": model.n_classes}
    else:
        shape = top.o.payload.shape()
        output = {"kind": "raw", "elements": shape.length, "bits": shape.elem_shape.width,
                  "signed": shape.elem_shape.signed}
    return {
        "input": {"elements": spec.elements, "bits": raw.width, "signed": raw.signed,
                  "lanes": top.lanes, "shape": list(spec.shape),
                  "transfers_per_sample": -(-spec.elements // top.lanes)},
        "output": output,
    }


def _manifest(model, options, top, layers, model_bytes):
    return {
        "top": options.name,
        **ports(model, top),
        "latency": top.latency,
        "ii": top.ii,
        "layers": layers,
        "options": options.describe(),
        "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
    }


def build(model, options, directory, *, model_bytes=b""):
    """Write ``<directory>/<name>.v`` and ``manifest.json``; return the manifest dict."""
    from ..progress import step

    with step(f"emitting the Verilog of {options.name}"):
        top, layers = build_network(model, options)
        text = emit_verilog(top, options.name)
    manifest = _manifest(model, options, top, layers, model_bytes)
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{options.name}.v").write_text(text)
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True)
                                                 + "\n")
    except OSError as error:
        raise NomulError(f"{directory}: cannot write ({error.strerror or error})") from None
    manifest["verilog"] = str(directory / f"{options.name}.v")
    return manifest
