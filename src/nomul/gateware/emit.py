# SPDX-License-Identifier: MIT
"""Verilog emission and the build directory (``nomul build``): the Verilog and its manifest.

The same design gives byte-identical files: Amaranth's output is deterministic and source
locations are left out (``emit_src=False``), so the text does not depend on where nomul is
installed.
"""

import json
from pathlib import Path

from amaranth.back import verilog

from ..alloc import few_collections
from ..errors import NomulError

__all__ = ["emit_verilog", "design_verilog", "write_verilog"]


def emit_verilog(component, name):
    """Verilog text of a component, top module ``name`` (ports ``clk``, ``rst``, ``i__*``,
    ``o__*``). Amaranth's netlist allocates millions of objects: few collections meanwhile
    (:func:`nomul.alloc.few_collections`)."""
    with few_collections():
        return verilog.convert(component, name=name, emit_src=False)


def design_verilog(design):
    """The Verilog of a whole :class:`~nomul.design.Design` (its network top, module
    ``design.name``)."""
    from .network import NetworkTop

    return emit_verilog(NetworkTop(design), design.name)


def write_verilog(design, directory):
    """Write ``<directory>/<name>.v`` and ``manifest.json`` (:meth:`Design.describe`); return
    the manifest with ``"verilog"``, the path of the Verilog file."""
    from ..progress import step

    with step(f"emitting the Verilog of {design.name}"):
        text = design_verilog(design)
    manifest = design.describe()
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{design.name}.v").write_text(text)
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True)
                                                 + "\n")
    except OSError as error:
        raise NomulError(f"{directory}: cannot write ({error.strerror or error})") from None
    manifest["verilog"] = str(directory / f"{design.name}.v")
    return manifest
