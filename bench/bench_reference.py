# SPDX-License-Identifier: MIT
"""Reference speed: the 450-sample digits test split through a 64-64-32-10 integer model.

Run: ``.venv/bin/python bench/bench_reference.py``. Prints the best of several runs.
"""

import platform
import time

from nomul.models import reference
from nomul.models.datasets import load_dataset
from nomul.models.synthetic import random_model


def main():
    data = load_dataset("digits")
    model = random_model("64-64-32-10", data.input, act_levels=4, weight_levels=8, seed=0)
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        reference.run(model, data.x_test)
        timings.append(time.perf_counter() - start)
    start = time.perf_counter()
    reference.run(model, data.x_test, trace=True)
    traced = time.perf_counter() - start
    print(f"machine: {platform.machine()} {platform.processor() or ''} python "
          f"{platform.python_version()}")
    print(f"reference, digits test split ({len(data.x_test)} samples), 64-64-32-10: "
          f"best {1e3 * min(timings):.1f} ms, median {1e3 * sorted(timings)[10]:.1f} ms, "
          f"with trace {1e3 * traced:.1f} ms")


if __name__ == "__main__":
    main()
