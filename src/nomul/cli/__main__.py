# SPDX-License-Identifier: MIT
"""``python -m nomul.cli``."""

import sys

from . import entry

sys.exit(entry())
