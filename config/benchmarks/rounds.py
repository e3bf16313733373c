"""Alternating rounds: every side runs once per round, in an order that rotates."""

from __future__ import annotations

from collections.abc import Callable

from .common import median


def alternate(sides: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """The median of each side's figure over ``rounds`` rounds.

    Round ``r`` starts with the ``r``-th side (modulo), so no side always goes first on a
    cold cache or last on a machine that has since grown busy.
    """
    names = list(sides)
    figures: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            figures[name].append(sides[name]())
    return {name: median(values) for name, values in figures.items()}
