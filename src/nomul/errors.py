# SPDX-License-Identifier: MIT
"""The one exception family for user errors; the CLI prints these as one line, no traceback."""

__all__ = ["NomulError", "ModelError", "ModelFileError", "OptionsError", "ToolError"]


class NomulError(Exception):
    """Base of every error caused by user input (files, options, missing tools)."""


class ModelError(NomulError, ValueError):
    """An integer model that violates the rules of docs/architecture.md; the message names
    the field."""


class ModelFileError(NomulError):
    """A model file that cannot be read: corrupt, truncated, hostile or of a future version."""


class OptionsError(NomulError, ValueError):
    """Command-line or implementation options that do not fit the model or each other."""


class ToolError(NomulError):
    """A required external tool (simulator, compiler, Yosys) is missing or failed."""
