"""Notebook 07 (visualising captions), exercises 3 and 4."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from helpers.shapes import Scene
from helpers.text import clean_caption

RELATION = re.compile(r"(\w+) (\w+) (?:to the )?(left of|right of|above|below) "
                      r"an? (?:small |large )?(\w+) (\w+)")


def worst_overlap(scores_a: Sequence[float], scores_b: Sequence[float], n: int) -> float:
    """Exercise 3: the share of the ``n`` lowest by one score that are also lowest by the other."""
    worst_a = set(np.argsort(np.asarray(scores_a), kind="stable")[:n])
    worst_b = set(np.argsort(np.asarray(scores_b), kind="stable")[:n])
    return len(worst_a & worst_b) / n


def _find(scene: Scene, colour: str, shape: str):
    """The object of ``scene`` with this colour and shape (its plural too), or None."""
    return next((t for t in scene.things if t.colour == colour
                 and shape in (t.shape, t.shape + "s", t.shape + "es")), None)


def relation_right(caption: str, scene: Scene) -> bool | None:
    """Exercise 4: whether "a X left of (right of, above, below) a Y" is true of ``scene``.

    None when the caption states no such relation, or names an object that is
    not in the picture (then it is wrong about *what* is there, not *where*).
    """
    found = RELATION.search(clean_caption(caption))
    if found is None:
        return None
    colour_a, shape_a, relation, colour_b, shape_b = found.groups()
    a, b = _find(scene, colour_a, shape_a), _find(scene, colour_b, shape_b)
    if a is None or b is None or a is b:
        return None
    return {"left of": a.x < b.x, "right of": a.x > b.x,
            "above": a.y < b.y, "below": a.y > b.y}[relation]


def relation_accuracy(captions: Sequence[str], scenes: Sequence[Scene]) -> tuple[float, int]:
    """Exercise 4: share right among the captions with a checkable relation, and their number."""
    judged = [relation_right(c, s) for c, s in zip(captions, scenes)]
    judged = [j for j in judged if j is not None]
    return (sum(judged) / len(judged) if judged else float("nan")), len(judged)
