# SPDX-License-Identifier: MIT
"""nomul: multiplier-free, floating-point-free neural network hardware from product tables."""

from .errors import NomulError

__all__ = ["NomulError", "__version__"]
__version__ = "0.1.0"
