# SPDX-License-Identifier: MIT
"""Bounded monotone non-linearities and their discretization to activation levels.

A discretized non-linearity maps a pre-activation ``z`` to the index of the nearest output
level, ties going up: ``index = count(z >= boundary_k)`` with
``boundary_k = f^-1((v[k-1] + v[k]) / 2)``. The same rule is used by the float simulation in
training and export and, with integer thresholds, by the integer reference.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Nonlinearity", "NONLINEARITIES", "get_nonlinearity", "uniform_levels",
           "boundaries"]


@dataclass(frozen=True)
class Nonlinearity:
    """A monotone increasing function with output range ``[lo, hi]`` and its inverse on it."""

    name: str
    lo: float
    hi: float

    def forward(self, z):
        z = np.asarray(z, dtype=np.float64)
        if self.name == "tanh":
            return np.tanh(z)
        return np.clip(z, self.lo, self.hi)

    def derivative(self, z):
        """d forward / dz (for training): 1 inside the linear range, 0 where clipped."""
        z = np.asarray(z, dtype=np.float64)
        if self.name == "tanh":
            return 1.0 - np.tanh(z) ** 2
        return ((z > self.lo) & (z < self.hi)).astype(np.float64)

    def inverse(self, y):
        """``f^-1(y)`` for ``lo < y < hi``; raises for values outside the open range."""
        y = np.asarray(y, dtype=np.float64)
        if np.any((y <= self.lo) | (y >= self.hi)):
            raise ValueError(f"{self.name}: level midpoints must lie strictly inside "
                             f"({self.lo}, {self.hi})")
        if self.name == "tanh":
            return np.arctanh(y)
        return y


NONLINEARITIES = {
    "clipped_relu": Nonlinearity("clipped_relu", 0.0, 1.0),
    "relu6": Nonlinearity("relu6", 0.0, 6.0),
    "hard_tanh": Nonlinearity("hard_tanh", -1.0, 1.0),
    "tanh": Nonlinearity("tanh", -1.0, 1.0),
}


def get_nonlinearity(name):
    try:
        return NONLINEARITIES[name]
    except KeyError:
        raise ValueError(f"unknown non-linearity {name!r}; choose from "
                         f"{', '.join(NONLINEARITIES)}") from None


def uniform_levels(name, levels):
    """``levels`` evenly spaced output values over the non-linearity's whole range."""
    f = get_nonlinearity(name)
    if levels < 2:
        raise ValueError(f"need at least 2 activation levels, not {levels}")
    return np.linspace(f.lo, f.hi, int(levels))


def boundaries(name, values):
    """Pre-activation boundaries ``f^-1`` of the midpoints of ascending output ``values``."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size < 2 or np.any(np.diff(values) <= 0):
        raise ValueError("output levels must be a strictly increasing vector of >= 2 values")
    return get_nonlinearity(name).inverse((values[:-1] + values[1:]) / 2)
