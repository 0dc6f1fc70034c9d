# SPDX-License-Identifier: MIT
"""The lowered design: one object between the integer model and the hardware.

:func:`lower` checks the :class:`BuildOptions` against the model once and returns a
:class:`Design`: frozen per-stage plans (:mod:`.plans`) holding tables and ROM words in
hardware layout, proven bounds, tree shapes, memories, latency and ii. The gateware builds one
component from each plan, the estimator costs the plans, and the manifest is
:meth:`Design.describe`.
"""

from .activation import Argmax, Raw, Thresholds
from .design import Design
from .lower import BASELINES, baseline_model, lower
from .options import (
    AdderStyle,
    Arch,
    BuildOptions,
    LayerOptions,
    TableStyle,
    ThresholdMethod,
    WeightStyle,
)

__all__ = ["lower", "Design", "BuildOptions", "LayerOptions", "Arch", "TableStyle",
           "WeightStyle", "ThresholdMethod", "AdderStyle", "Thresholds", "Argmax", "Raw",
           "BASELINES", "baseline_model"]
