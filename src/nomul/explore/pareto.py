# SPDX-License-Identifier: MIT
"""Pareto fronts: the points no other point beats in both accuracy and a cost."""

__all__ = ["pareto_front"]


def pareto_front(points, cost, accuracy="int_accuracy"):
    """The points (dicts) not dominated in (higher ``accuracy``, lower ``cost``), cheapest
    first: a point is dominated when another has at least its accuracy at most its cost, and
    is better in one. Points without both values are left out; of equal points the first in
    ``points`` order is kept."""
    usable = [p for p in points if p.get(cost) is not None and p.get(accuracy) is not None]
    ordered = sorted(enumerate(usable), key=lambda ip: (ip[1][cost], -ip[1][accuracy], ip[0]))
    front, best = [], None
    for _, point in ordered:
        if best is None or point[accuracy] > best:
            front.append(point)
            best = point[accuracy]
    return front
