# SPDX-License-Identifier: MIT
"""The hardware of the weightless layer kinds (:mod:`nomul.models.kinds`): one module each,
holding the kind's plan, its lowering and its cost features, registered here.

:func:`lowers` registers ``lower(layer, in_shape, levels, position)`` for a layer class: it
returns the stage plan (``None`` for a layer that needs no hardware, such as flatten);
:func:`costs` registers ``features(plan, lut_inputs) -> (features, memories)`` for a plan
class (see :mod:`nomul.design.cost`). Every module of this package is imported with it.
"""

import importlib
import pkgutil

__all__ = ["LOWERINGS", "FEATURES", "lowers", "costs"]

LOWERINGS = {}
FEATURES = {}


def lowers(layer_class):
    """Decorator: the lowering of ``layer_class``."""
    def register(function):
        LOWERINGS[layer_class] = function
        return function
    return register


def costs(plan_class):
    """Decorator: the cost features of ``plan_class``."""
    def register(function):
        FEATURES[plan_class] = function
        return function
    return register


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
