# SPDX-License-Identifier: MIT
"""Shared test helpers: an independent loop-based reference and random model builders."""
