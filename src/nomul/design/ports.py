# SPDX-License-Identifier: MIT
"""Stream payloads as plain data (no Amaranth): a scalar field or a vector of fields.

A plan states what flows in and out of its stage with these; the component turns them into
Amaranth shapes (``unsigned``/``signed``, ``data.ArrayLayout``), so two stages whose plans
agree are guaranteed to connect, and the estimator and the manifest read widths without
elaborating anything.
"""

from dataclasses import dataclass

from ..numeric import Bounds

__all__ = ["Field", "Vector", "field_of"]


@dataclass(frozen=True)
class Field:
    """A ``width``-bit number, two's complement when ``signed``."""

    width: int
    signed: bool = False

    @property
    def bounds(self):
        """Every value the field can hold."""
        if self.signed:
            return Bounds(-(1 << (self.width - 1)), (1 << (self.width - 1)) - 1)
        return Bounds(0, (1 << self.width) - 1)

    @property
    def bits(self):
        return self.width


@dataclass(frozen=True)
class Vector:
    """``length`` fields, element 0 in the least significant bits."""

    element: Field
    length: int

    @property
    def bits(self):
        return self.element.width * self.length


def field_of(bounds):
    """The smallest field holding ``bounds``: signed when ``lo < 0``, else unsigned."""
    return Field(bounds.width, bounds.signed)
