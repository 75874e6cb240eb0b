"""Is a caption true of its picture? Counting from the shapes world's truth (notebooks 06-08).

The generator of :mod:`helpers.shapes` knows every scene (``scenes.json``), so
a caption can be checked as a reader would check it: the colours and shapes
it names, how many objects it says, which relation words it uses, and, for
the attention model, where it looked while naming an object.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from helpers.shapes import (
    BACKGROUNDS,
    COLOURS,
    IMAGE_SIZE,
    SHAPES,
    Scene,
    Thing,
    draw_thing,
    plural,
)


def _shape_word(word: str) -> str | None:
    for shape in SHAPES:
        if word in (shape, plural(shape)):
            return shape
    return None


TRUTH_KINDS = ("colours", "shapes", "background")
"""What :func:`caption_truth` checks in a caption."""


def caption_truth(caption: str, scene: Scene) -> dict[str, str]:
    """What a (generated) caption says about the scene, kind by kind (notebook 06).

    For each of :data:`TRUTH_KINDS` the answer is ``"right"`` (it names some,
    and every one it names is in the picture), ``"wrong"`` (it names at least
    one that is not there) or ``"none"`` (it names none). A caption that names
    nothing is not right: "a shape" is true of every picture and shows nothing.

    >>> scene = Scene("white", (Thing("circle", "red", "small", 40, 40),), "single")
    >>> caption_truth("a red square on a white background", scene)
    {'colours': 'right', 'shapes': 'wrong', 'background': 'right'}
    """
    words = caption.lower().split()
    named = {
        "colours": {w for w in words if w in COLOURS},
        "shapes": {s for s in map(_shape_word, words) if s},
        "background": {w for w in words if w in BACKGROUNDS},
    }
    present = {
        "colours": {t.colour for t in scene.things},
        "shapes": {t.shape for t in scene.things},
        "background": {scene.background},
    }
    return {
        kind: "none" if not named[kind] else "right" if named[kind] <= present[kind] else "wrong"
        for kind in TRUTH_KINDS
    }


def truth_rates(captions: list[str], scenes: list[Scene]) -> dict[str, dict[str, float]]:
    """How often captions name each kind, and name it right (notebook 06).

    For each kind: ``named`` is the share of captions that name one at all,
    ``right`` the share that name it and are right (of *all* captions, so a
    caption that names nothing counts against it), and ``right_when_named``
    the share of right ones among those that name it (``nan`` if none do).
    """
    if len(captions) != len(scenes) or not captions:
        raise ValueError(f"{len(captions)} captions for {len(scenes)} scenes: give one per scene")
    verdicts = [caption_truth(c, s) for c, s in zip(captions, scenes)]
    rates = {}
    for kind in TRUTH_KINDS:
        named = sum(v[kind] != "none" for v in verdicts)
        right = sum(v[kind] == "right" for v in verdicts)
        rates[kind] = {
            "named": named / len(verdicts),
            "right": right / len(verdicts),
            "right_when_named": right / named if named else float("nan"),
        }
    return rates


_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3}


_ROW_WORDS = {"left", "right", "row"}


_COLUMN_WORDS = {"above", "below", "top", "bottom", "column"}


def said_count(caption: str) -> int | None:
    """How many objects a caption says there are, or None when it does not say (notebook 07).

    ``"three shapes ..."`` says 3; otherwise its noun phrases are added up:
    ``"two red circles and a blue square"`` says 3, ``"a single red star"`` 1.
    """
    words = caption.lower().split()
    if "shapes" in words:
        before = words[words.index("shapes") - 1] if words.index("shapes") else ""
        if before in _NUMBER_WORDS:
            return _NUMBER_WORDS[before]
    total = 0
    for i, word in enumerate(words):
        shape = _shape_word(word)
        if shape is None:
            continue
        if word == shape:  # singular: one object
            total += 1
        else:  # plural: the number word before the colour ("two red circles"), else two
            numbers = [_NUMBER_WORDS[w] for w in words[max(0, i - 3):i] if w in _NUMBER_WORDS]
            total += numbers[-1] if numbers else 2
    return total or None


def said_relation(caption: str) -> str:
    """Which way a caption lays the objects out: ``row``, ``column``, ``both`` or ``none``.

    ``row``: it uses left/right words ("to the left of", "from left to right",
    "in a row"); ``column``: above/below words. Only the direction is checked,
    not which object is where.
    """
    words = set(caption.lower().split())
    row, column = bool(words & _ROW_WORDS), bool(words & _COLUMN_WORDS)
    return "both" if row and column else "row" if row else "column" if column else "none"


CONFUSION_KINDS = ("colour", "shape", "count", "relation")
"""What :func:`truth_confusion` tabulates."""


def truth_confusion(captions: list[str], scenes: list[Scene]) -> dict[str, dict]:
    """What the captions said against what the pictures held, kind by kind (notebook 07).

    For each of :data:`CONFUSION_KINDS` a dictionary with ``held`` (row
    labels), ``said`` (column labels) and ``counts`` (a matrix: how many
    captions of pictures holding the row said the column). A perfect captioner
    has everything on the diagonal.

    * ``colour`` and ``shape``: pictures whose objects all share one colour
      (shape); the caption says the one it names, ``several`` or ``none``;
    * ``count``: every picture, 1-3 objects against :func:`said_count`;
    * ``relation``: pictures of two or three objects, laid out in a ``row`` or a
      ``column``, against :func:`said_relation`.
    """
    if len(captions) != len(scenes) or not captions:
        raise ValueError(f"{len(captions)} captions for {len(scenes)} scenes: give one per scene")
    tables = {
        "colour": (list(COLOURS), [*COLOURS, "several", "none"]),
        "shape": (list(SHAPES), [*SHAPES, "several", "none"]),
        "count": (["1", "2", "3"], ["1", "2", "3", "more", "none"]),
        "relation": (["row", "column"], ["row", "column", "both", "none"]),
    }
    counts = {kind: np.zeros((len(held), len(said)), int) for kind, (held, said) in tables.items()}

    def add(kind: str, held: str, said: str) -> None:
        rows, columns = tables[kind]
        counts[kind][rows.index(held), columns.index(said)] += 1

    for caption, scene in zip(captions, scenes):
        words = caption.lower().split()
        named = {"colour": sorted({w for w in words if w in COLOURS}),
                 "shape": sorted({s for s in map(_shape_word, words) if s})}
        for kind in ("colour", "shape"):
            held = {getattr(t, kind) for t in scene.things}
            if len(held) == 1:
                said = named[kind]
                add(kind, held.pop(), said[0] if len(said) == 1 else "several" if said else "none")
        number = said_count(caption)
        add("count", str(len(scene.things)),
            "none" if number is None else str(number) if number <= 3 else "more")
        if scene.layout in ("row", "column"):
            add("relation", scene.layout, said_relation(caption))
    return {kind: {"held": tables[kind][0], "said": tables[kind][1], "counts": counts[kind]}
            for kind in tables}


def share_right(table: dict) -> float:
    """The diagonal of a :func:`truth_confusion` table: the share of pictures named right."""
    counts = table["counts"]
    right = sum(counts[i, table["said"].index(held)] for i, held in enumerate(table["held"]))
    return float(right / max(counts.sum(), 1))


def object_mask(thing: Thing) -> np.ndarray:
    """Where one object is: a 224x224 boolean mask, drawn as :func:`draw_scene` draws it."""
    mask = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 0)
    draw_thing(ImageDraw.Draw(mask), thing, 255)
    return np.asarray(mask) > 0


def _grid_side(weights: np.ndarray) -> int:
    """The side of the square grid that attention maps of ``weights.shape[1]`` positions cover."""
    side = int(round(np.sqrt(weights.shape[1])))
    if side * side != weights.shape[1]:
        raise ValueError(f"attention maps of {weights.shape[1]} positions are not a square grid")
    return side


def _on_grid(mask: np.ndarray, side: int) -> np.ndarray:
    """The share of each of ``side x side`` grid cells that ``mask`` covers, row by row."""
    cell = mask.shape[0] // side
    return mask[: side * cell, : side * cell].reshape(side, cell, side, cell).mean(axis=(1, 3))


def attention_on_named(words: list[str], weights: np.ndarray, scene: Scene) -> list[dict]:
    """For each colour or shape word of a caption: how much attention fell on what it names
    (notebook 08).

    ``weights[j]`` is the attention map (one weight per grid position, row by
    row) with which word ``j`` was chosen. A word names the objects of its
    colour (``red``) or shape (``circles``); a word that names nothing in the
    picture is left out (it is wrong, and :func:`truth_confusion` counts it).
    Each row: ``word``, ``on_object`` (the attention mass that falls on the
    named objects' pixels, each cell's weight spread evenly over its pixels)
    and ``uniform`` (the share of the picture they cover: what a map that looks
    everywhere alike would put on them). ``on_object / uniform`` above 1 means
    the model looks at what it names.
    """
    weights = np.asarray(weights, dtype=np.float64)
    side = _grid_side(weights)
    rows = []
    for word, weight in zip(words, weights):
        shape = _shape_word(word)
        named = [t for t in scene.things if t.colour == word or (shape and t.shape == shape)]
        if not named:
            continue
        mask = np.logical_or.reduce([object_mask(t) for t in named])
        cover = _on_grid(mask, side).reshape(-1)
        rows.append({"word": word, "kind": "shape" if shape else "colour",
                     "on_object": float(weight @ cover), "uniform": float(cover.mean())})
    return rows


def what_colour_words_look_at(words: list[str], weights: np.ndarray, scene: Scene) -> list[dict]:
    """For each colour word of a caption: which object its attention map favours (notebook 08).

    ``weights[j]`` is the attention map with which word ``j`` was chosen. Each
    object gets the weight on its pixels divided by the share of the picture it
    covers: how many times a uniform map's share it got, the measure of
    :func:`attention_on_named`. The favoured object is the one with the most.
    Each row: ``index`` and ``word`` (the colour word); ``thing`` (the favoured
    :class:`~helpers.shapes.Thing`, or ``None`` when no object gets more than
    its uniform share); ``times`` (its ratio); ``times_said`` (the largest
    ratio among the objects of the word's colour, 0 when the picture has none).
    A ``thing`` whose colour is not ``word`` is a colour said while looking at
    an object of another colour.
    """
    weights = np.asarray(weights, dtype=np.float64)
    side = _grid_side(weights)
    covers = [_on_grid(object_mask(t), side).reshape(-1) for t in scene.things]
    rows = []
    for index, (word, weight) in enumerate(zip(words, weights)):
        if word not in COLOURS:
            continue
        times = [float(weight @ cover / cover.mean()) for cover in covers]
        best = int(np.argmax(times))
        said = [r for r, t in zip(times, scene.things) if t.colour == word]
        rows.append({"index": index, "word": word,
                     "thing": scene.things[best] if times[best] > 1 + 1e-6 else None,
                     "times": times[best], "times_said": max(said, default=0.0)})
    return rows
