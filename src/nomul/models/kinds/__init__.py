# SPDX-License-Identifier: MIT
"""Weightless layer kinds: one module each, registered by name.

A kind is a frozen dataclass deriving from :class:`WeightlessLayer` and decorated with
:func:`register`; it says what it computes on activation indices (:meth:`reference`, the
bit-exact op), its output shape, its file fields (``header_fields``: integer tuples stored in
the model file's JSON header) and its comparisons per inference. The model file reader, the
reference, ``nomul info`` and export read the registry (:data:`KINDS`), so a new kind is one
module here, plus its lowering (:mod:`nomul.design.kinds`) and its component
(:mod:`nomul.gateware`). Every module of this package is imported with it.
"""

import importlib
import pkgutil
from dataclasses import dataclass, field

from ..fields import int_tuple, json_meta

__all__ = ["WeightlessLayer", "KINDS", "register"]

KINDS = {}


def register(cls):
    """Class decorator: make a :class:`WeightlessLayer` kind known by its ``kind`` name."""
    if cls.kind in KINDS:
        raise ValueError(f"layer kind {cls.kind!r} registered twice")
    KINDS[cls.kind] = cls
    return cls


@dataclass(frozen=True, eq=False)
class WeightlessLayer:
    """A layer without weights over index tensors (pooling, flatten, ...).

    Subclasses set ``kind`` (the name in model files) and ``header_fields`` (their integer
    tuple fields, stored in the file's header), validate their fields in ``__post_init__``
    (calling ``super().__post_init__()``) and implement :meth:`output_shape` and
    :meth:`reference`.
    """

    meta: dict = field(default_factory=dict, kw_only=True)

    kind = None
    header_fields = ()

    def __post_init__(self):
        object.__setattr__(self, "meta", json_meta(self.meta, "meta"))

    def output_shape(self, input_shape):
        """The output tensor's shape for an ``input_shape`` input (ModelError if it cannot
        take it)."""
        raise NotImplementedError

    def reference(self, indices):
        """The bit-exact op on a batch of index tensors ``(B, *input_shape)``."""
        raise NotImplementedError

    def comparisons(self, out_shape):
        """Comparisons per inference (``nomul info``)."""
        return 0

    def header(self):
        """The JSON header entry's fields beyond ``kind`` and ``meta``."""
        return {name: list(getattr(self, name)) for name in self.header_fields}

    @classmethod
    def from_header(cls, fields, meta):
        """The layer from its header ``fields`` (already checked to be lists)."""
        return cls(**fields, meta=meta)

    @staticmethod
    def tuple_field(value, name, **bounds):
        """An integer tuple field (:func:`~nomul.models.fields.int_tuple`)."""
        return int_tuple(value, name, **bounds)


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
