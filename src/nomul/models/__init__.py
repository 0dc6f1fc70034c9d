# SPDX-License-Identifier: MIT
"""Software side: the integer model, its file, export from floats, the bit-exact reference."""

from .modelfile import load_model, save_model
from .spec import Activation, Conv, Dense, Flatten, InputSpec, IntegerModel, MaxPool

__all__ = ["Activation", "Conv", "Dense", "Flatten", "InputSpec", "IntegerModel", "MaxPool",
           "load_model", "save_model"]
