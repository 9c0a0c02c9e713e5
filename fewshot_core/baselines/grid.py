"""Hyper-parameter search on validation with the edge rule.

A value chosen on the edge of its grid says the grid was too narrow: the best setting may lie beyond it.
``search_grid`` therefore extends an axis beyond an edge its chosen value sits on (unless that edge is a
natural bound, e.g. a weight of 0) and searches again, up to ``max_extensions`` times, and reports
whether a chosen value still sits on an extendable edge afterwards (``at_grid_edge``).

Ties (validation accuracy is coarse: a few images per class) go to the value nearest the centre of the
axis's initial grid, so a plateau reaching an edge never triggers an extension and never picks an
extreme; an axis with ``ties="low"`` prefers its smallest value instead (the simplest model, e.g. the
earliest epoch). Remaining ties go to the smaller values.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

MAX_EXTENSIONS = 3  # rounds of extension before an edge is reported as is


@dataclass(frozen=True)
class Axis:
    """One hyper-parameter's grid.

    Args:
        name: the hyper-parameter's name (the key in the point passed to the score function).
        values: increasing grid values. A single value is a fixed setting, never extended.
        low, high: natural bounds; a chosen value equal to one is final (e.g. ``low=0.0`` for a weight).
        extend: ``"geometric"``: continue the ratio of the two outermost values at that edge;
            ``"double"``: continue the step of the two outermost values for as many values as the axis
            has (an epoch axis 1..E becomes 1..2E).
        per_extension: values added by one geometric extension.
        ties: ``"centre"`` or ``"low"`` (see the module docstring).
        integer: the values are counts (epochs), reported as ints.
    """

    name: str
    values: tuple[float, ...]
    low: float | None = None
    high: float | None = None
    extend: str = "geometric"
    per_extension: int = 2
    ties: str = "centre"
    integer: bool = False

    def __post_init__(self):
        if list(self.values) != sorted(set(self.values)):
            raise ValueError(f"axis {self.name}: values must increase strictly, got {self.values}")
        if self.extend == "geometric" and len(self.values) > 1 and self.values[0] <= 0 and self.low != self.values[0]:
            raise ValueError(f"axis {self.name}: a geometric grid starting at {self.values[0]} needs it as its natural lower bound")

    def at_edge(self, value: float) -> str | None:
        """``"low"`` / ``"high"`` if ``value`` sits on an edge that is not a natural bound, else None."""
        if len(self.values) < 2:
            return None
        if value == self.values[-1] and (self.high is None or value < self.high):
            return "high"
        if value == self.values[0] and (self.low is None or value > self.low):
            return "low"
        return None

    def extended(self, side: str) -> Axis:
        """This axis with new values beyond its ``side`` edge (never past a natural bound)."""
        v = self.values
        a, b = (v[-2], v[-1]) if side == "high" else (v[1], v[0])
        if self.extend == "double":
            new = [b + (b - a) * k for k in range(1, len(v) + 1)]
        else:
            ratio = b / a
            new = [b * ratio**k for k in range(1, self.per_extension + 1)]
        bound = self.high if side == "high" else self.low
        if bound is not None:  # stop at the bound: an edge there is final
            new = sorted({min(x, bound) if side == "high" else max(x, bound) for x in new}, reverse=side == "low")
        values = tuple(v) + tuple(new) if side == "high" else tuple(reversed(new)) + tuple(v)
        return replace(self, values=values)


@dataclass
class GridResult:
    """The chosen point, its score, and what the edge rule did."""

    best: dict[str, float]
    score: float
    at_grid_edge: bool
    grid_extensions: int
    edges_before: list[str] = field(default_factory=list)  # axes whose first choice sat on an extendable edge
    edges_after: list[str] = field(default_factory=list)  # axes whose final choice still does
    axes: list[Axis] = field(default_factory=list)  # the grids finally searched

    def report(self) -> dict:
        """The JSON-serialisable record a ``FittedBaseline.chosen`` carries."""
        return {
            **{a.name: int(self.best[a.name]) if a.integer else float(self.best[a.name]) for a in self.axes},
            "at_grid_edge": self.at_grid_edge,
            "grid_extensions": self.grid_extensions,
            "edges_before": list(self.edges_before),
            "edges_after": list(self.edges_after),
        }


def search_grid(
    score: Callable[[dict[str, float]], float],
    axes: Sequence[Axis],
    max_extensions: int = MAX_EXTENSIONS,
    natural_edge: Callable[[str, float], bool] | None = None,
) -> GridResult:
    """Maximise ``score`` over the product of ``axes``, extending an axis whose choice sits on its edge.

    Each point is scored once (in grid order, the first axis outermost). After each search, every axis
    whose chosen value sits on an extendable edge is extended beyond it and the new points are scored;
    this repeats at most ``max_extensions`` times.

    Args:
        score: point (name -> value) -> validation score, higher is better.
        axes: the grids.
        max_extensions: rounds of extension allowed.
        natural_edge: optional (name, value) -> True when that edge is a natural bound discovered while
            scoring (e.g. training converged by that epoch).

    Returns:
        The chosen point with ``at_grid_edge``, ``grid_extensions`` and the axes at an edge before and after.
    """
    axes = list(axes)
    positions = [{v: float(i) for i, v in enumerate(a.values)} for a in axes]
    centres = [(len(a.values) - 1) / 2 for a in axes]
    spans = [max(len(a.values) - 1, 1) for a in axes]
    scores: dict[tuple[float, ...], float] = {}
    before: list[str] | None = None
    extensions = 0
    while True:
        for point in itertools.product(*(a.values for a in axes)):
            if point not in scores:
                scores[point] = float(score(dict(zip((a.name for a in axes), point))))

        def preference(point: tuple[float, ...]) -> tuple:
            away = sum(
                (positions[i][v] if a.ties == "low" else abs(positions[i][v] - centres[i])) / spans[i] for i, (a, v) in enumerate(zip(axes, point))
            )
            return (-scores[point], away, point)

        best = min(scores, key=preference)
        edges = [(i, side) for i, a in enumerate(axes) if (side := a.at_edge(best[i])) and not (natural_edge and natural_edge(a.name, best[i]))]
        before = [axes[i].name for i, _ in edges] if before is None else before
        if not edges or extensions == max_extensions:
            break
        for i, side in edges:
            axes[i] = axes[i].extended(side)
            _place_new_values(positions[i], axes[i].values)
        extensions += 1
    return GridResult(
        best={a.name: v for a, v in zip(axes, best)},
        score=scores[best],
        at_grid_edge=bool(edges),
        grid_extensions=extensions,
        edges_before=before,
        edges_after=[axes[i].name for i, _ in edges],
        axes=axes,
    )


def _place_new_values(positions: dict[float, float], values: tuple[float, ...]) -> None:
    """Give values added by an extension positions that continue the initial grid's indices outwards."""
    low, high = min(positions), max(positions)
    below = [v for v in values if v < low]
    above = [v for v in values if v > high]
    first, last = min(positions.values()), max(positions.values())
    for k, v in enumerate(reversed(below), 1):
        positions[v] = first - k
    for k, v in enumerate(above, 1):
        positions[v] = last + k
