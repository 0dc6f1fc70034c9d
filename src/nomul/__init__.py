# SPDX-License-Identifier: MIT
"""nomul: multiplier-free, floating-point-free neural network hardware from product tables.

The pipeline, one function a stage (:mod:`nomul.api`): :func:`load` / :func:`train` a model,
:func:`lower` it to a :class:`~nomul.design.Design`, :func:`write_verilog`, :func:`simulate`
against :func:`reference`, :func:`estimate` its cost. The functions and types load on first
use, so ``import nomul`` (and ``nomul --help``) stays instant.
"""

from .errors import ModelError, ModelFileError, NomulError, OptionsError, ToolError

__version__ = "0.1.0"
__all__ = ["__version__", "load", "save", "load_dataset", "load_data", "train", "lower",
           "write_verilog",
           "simulate", "estimate", "reference", "IntegerModel", "BuildOptions",
           "LayerOptions", "Design", "TrainConfig", "NomulError", "ModelError",
           "ModelFileError", "OptionsError", "ToolError"]

_LAZY = {
    **{name: "nomul.api" for name in ("load", "save", "load_dataset", "load_data", "train",
                                      "lower",
                                      "write_verilog", "simulate", "estimate", "reference")},
    "IntegerModel": "nomul.models.spec",
    "BuildOptions": "nomul.design",
    "LayerOptions": "nomul.design",
    "Design": "nomul.design",
    "TrainConfig": "nomul.models.training.trainer",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nomul' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
