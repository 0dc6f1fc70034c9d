# SPDX-License-Identifier: MIT
"""Design-space exploration: ``nomul sweep`` (:mod:`.sweep`) over training and build choices,
run on a local process pool or a Dask cluster (:mod:`.executors`), with the Pareto fronts of
accuracy against cost (:mod:`.pareto`)."""
