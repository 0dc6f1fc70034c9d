# SPDX-License-Identifier: MIT
"""``python -m nomul.cli``."""

import sys

from . import main

sys.exit(main())
