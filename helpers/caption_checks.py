"""Is the order true, and does each colour go with its shape? (notebooks 06-08).

:mod:`helpers.shapes_truth` checks a caption's words one kind at a time: its
colours, its shapes, its direction words. A reader checks more: that the red
thing named is the circle ("a red circle", not a red square and a blue
circle), and that the things stand in the order the caption says. Notebook 06
teaches the two measures; notebooks 07 and 08 show them for their models:

* **colour with shape** (:func:`colour_shape_truth`, :func:`colour_shape_rates`):
  every "colour shape" a caption names ("red circle", "two blue squares", "a
  circle coloured red") is an object of the picture;
* **order** (:func:`order_truth`, :func:`order_rates`): the caption states
  where the objects are ("to the left of", "above", "from left to right", "in
  a column", "between") and every such statement is true of the picture.

Both read a caption as the shapes world's reference captions are written
(:func:`helpers.shapes.describe`), with or without punctuation, so they apply
to generated (cleaned) captions and to the references alike; every reference
caption is right by both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import permutations

from helpers.shapes import COLOURS, SHAPES, SIZES, Scene, Thing, plural

_COUNTS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3}

ORDER_WORDS = frozenset({"left", "right", "above", "below", "top", "bottom", "row", "column",
                         "between"})
"""Words that state where things are: a caption using one states an order."""

_RELATIONS = {  # "A <relation> B": the axis, and whether A comes first along it
    "to the left of": ("row", True), "left of": ("row", True),
    "to the right of": ("row", False), "right of": ("row", False),
    "above": ("column", True), "below": ("column", False),
}
_FROM_TO = {("left", "right"): ("row", True), ("right", "left"): ("row", False),
            ("top", "bottom"): ("column", True), ("bottom", "top"): ("column", False)}
_LIST = r"O\d+(?: (?:and )?O\d+)*"  # objects one after another, "and" allowed between them
_PATTERNS = {
    # the second object of a relation is looked ahead at: it may begin the next one
    "relation": re.compile(rf"(O\d+) ({'|'.join(_RELATIONS)}) (?=(O\d+))"),
    "from": re.compile(rf"({_LIST}) from (\w+) to (\w+)"),
    "in": re.compile(rf"in an? (row|column)(?: ({_LIST}))?"),
    "between": re.compile(r"(O\d+) between (O\d+) and (O\d+)"),
}


@dataclass(frozen=True)
class Named:
    """An object a caption names: ``colour`` and ``size`` are None when it does not say them."""

    shape: str
    colour: str | None = None
    size: str | None = None
    count: int = 1

    def fits(self, thing: Thing) -> bool:
        """Whether ``thing`` is what this phrase describes (one of them, for a plural)."""
        return (thing.shape == self.shape and self.colour in (None, thing.colour)
                and self.size in (None, thing.size))


_SHAPE_OF = {**{s: s for s in SHAPES}, **{plural(s): s for s in SHAPES}}


def _words(caption: str) -> list[str]:
    return re.sub(r"[^a-z ]+", " ", caption.lower()).split()


def named_objects(caption: str) -> tuple[list[str], list[Named]]:
    """The caption's words with each object phrase replaced by ``O<k>``, and the objects.

    An object phrase is ``[a|two|...] [small|large] [colour] shape`` or
    ``[a] [size] shape coloured <colour>``: ``"two small red circles"``,
    ``"a circle coloured red"``. Number words are kept out of a phrase when no
    shape follows them ("three shapes ...").

    >>> named_objects("A red circle above two blue squares .")[0]
    ['O0', 'above', 'O1']
    """
    words, out, objects, i = _words(caption), [], [], 0
    while i < len(words):
        j, count = i, 1
        if words[j] in _COUNTS and j + 1 < len(words):
            count, j = _COUNTS[words[j]], j + 1
        size = words[j] if words[j] in SIZES and j + 1 < len(words) else None
        j += size is not None
        colour = words[j] if words[j] in COLOURS and j + 1 < len(words) else None
        j += colour is not None
        shape = _SHAPE_OF.get(words[j]) if j < len(words) else None
        if shape is None:
            out.append(words[i])
            i += 1
            continue
        if words[j] != shape and count == 1:  # a plural with no number word: two
            count = 2
        j += 1
        if colour is None and j + 1 < len(words) and words[j] == "coloured" \
                and words[j + 1] in COLOURS:
            colour, j = words[j + 1], j + 2
        out.append(f"O{len(objects)}")
        objects.append(Named(shape, colour, size, count))
        i = j
    return out, objects


def colour_shape_truth(caption: str, scene: Scene) -> str:
    """Whether each "colour shape" the caption names is an object of the picture.

    ``"right"``: it names at least one coloured object, and the picture holds
    an object of that colour and shape for every one; ``"wrong"``: one of them
    is not there ("a red square" where the square is blue and the circle red);
    ``"none"``: it names no coloured object ("three shapes on a gray background").
    Size and number are not checked here, only the pairing.
    """
    pairs = {(o.colour, o.shape) for o in named_objects(caption)[1] if o.colour}
    if not pairs:
        return "none"
    present = {(t.colour, t.shape) for t in scene.things}
    return "right" if pairs <= present else "wrong"


def _placed(groups: list[list[Named]], things: list[Thing]) -> bool:
    """Whether some objects, one per named copy, fit ``groups`` in order along ``things``.

    ``things`` are sorted along the axis; every object of a group must stand
    before every object of the next group (within a group the order is free).
    """
    copies = [(g, named) for g, group in enumerate(groups) for named in group
              for _ in range(named.count)]
    for chosen in permutations(range(len(things)), len(copies)):
        if not all(named.fits(things[k]) for (_, named), k in zip(copies, chosen)):
            continue
        last = [max((k for (g, _), k in zip(copies, chosen) if g == group), default=-1)
                for group in range(len(groups))]
        first = [min((k for (g, _), k in zip(copies, chosen) if g == group), default=-1)
                 for group in range(len(groups))]
        if all(last[g] < first[g + 1] for g in range(len(groups) - 1)):
            return True
    return False


def _statements(symbols: list[str], objects: list[Named]):
    """Each order statement: (the token positions it covers, its axis or None, groups in order).

    The axis is None for "between", which says which is in the middle, not which way.
    """
    text = " ".join(symbols)
    for kind, pattern in _PATTERNS.items():
        for match in pattern.finditer(text):
            end = max(match.end(), *(match.end(g) for g in range(1, pattern.groups + 1)
                                           if match.group(g)))
            span = range(text[:match.start()].count(" "), text[:end].count(" ") + 1)

            def listed(group: str | None) -> list[list[Named]]:
                return [[objects[int(k)]] for k in re.findall(r"O(\d+)", group or "")]

            if kind == "relation":
                axis, forward = _RELATIONS[match.group(2)]
                pair = listed(match.group(1)) + listed(match.group(3))
                yield span, axis, pair if forward else pair[::-1]
            elif kind == "from":
                if (match.group(2), match.group(3)) not in _FROM_TO:
                    continue  # "from left to bottom" states nothing true: left uncovered
                axis, forward = _FROM_TO[match.group(2), match.group(3)]
                groups = listed(match.group(1))
                yield span, axis, groups if forward else groups[::-1]
            elif kind == "in":  # "in a row: A, B and C" lists them in reading order
                yield span, match.group(1), listed(match.group(2))
            else:  # "B between A and C"
                yield span, None, [*listed(match.group(2)), *listed(match.group(1)),
                                   *listed(match.group(3))]


def order_truth(caption: str, scene: Scene) -> str:
    """Whether the order a caption states is true of the picture.

    ``"none"``: the caption uses no word of :data:`ORDER_WORDS`.
    ``"right"``: every such word belongs to a statement that is true:

    * ``A to the left of B`` (``right of``, ``above``, ``below``): the objects
      stand in a row (a column), an object that fits A before one that fits B;
    * ``A, B and C from left to right`` (``right to left``, ``top to bottom``,
      ``bottom to top``): they stand in that order along the row (column);
    * ``in a row: A, B and C`` (``column``): a row (column), listed in reading
      order, left to right or top to bottom;
    * ``B between A and C``: along the row or column, B stands between A and C.

    An object fits a phrase when its shape, and the colour and size the phrase
    gives, are the object's; each phrase needs an object of its own. ``"wrong"``:
    a statement is false, or an order word belongs to no statement (a caption
    cut short, "a red circle to the left of").
    """
    symbols, objects = named_objects(caption)
    stated = {k for k, word in enumerate(symbols) if word in ORDER_WORDS}
    if not stated:
        return "none"
    covered: set[int] = set()
    layout = scene.layout if scene.layout in ("row", "column") else None
    for span, axis, groups in _statements(symbols, objects):
        along = axis or layout
        if along != layout or layout is None:
            return "wrong"
        things = sorted(scene.things, key=lambda t: t.x if along == "row" else t.y)
        if not (_placed(groups, things) or axis is None and _placed(groups[::-1], things)):
            return "wrong"
        covered |= set(span)
    return "right" if stated <= covered else "wrong"


def _check_lengths(captions: list[str], scenes: list[Scene]) -> None:
    if len(captions) != len(scenes) or not captions:
        raise ValueError(f"{len(captions)} captions for {len(scenes)} scenes: give one per scene")


def order_rates(captions: list[str], scenes: list[Scene]) -> dict[str, float]:
    """The order measure over the pictures of two or more objects (notebook 06).

    Counts: ``pictures`` (of two or more objects), ``stated`` (their captions
    that state an order), ``right`` (that state one and every stated order is
    true: see :func:`order_truth`). Shares: ``share_right`` (the measure:
    ``right / pictures``, so a caption that states no order is not right),
    ``share_stated`` and ``share_right_when_stated`` (``nan`` when none applies).
    """
    _check_lengths(captions, scenes)
    verdicts = [order_truth(c, s) for c, s in zip(captions, scenes) if len(s.things) >= 2]
    pictures, stated = len(verdicts), sum(v != "none" for v in verdicts)
    right = verdicts.count("right")
    return {"pictures": pictures, "stated": stated, "right": right,
            "share_stated": stated / pictures if pictures else float("nan"),
            "share_right": right / pictures if pictures else float("nan"),
            "share_right_when_stated": right / stated if stated else float("nan")}


def colour_shape_rates(captions: list[str], scenes: list[Scene]) -> dict[str, float]:
    """The colour-with-shape measure over the captions that name a coloured object (notebook 06).

    Counts: ``captions`` (all), ``named`` (those naming at least one "colour
    shape"), ``right`` (those of them in which every one named is an object of
    the picture: see :func:`colour_shape_truth`). Shares: ``share_named``
    (``named / captions``) and ``share_right_when_named`` (the measure:
    ``right / named``, ``nan`` when no caption names one).
    """
    _check_lengths(captions, scenes)
    verdicts = [colour_shape_truth(c, s) for c, s in zip(captions, scenes)]
    named = sum(v != "none" for v in verdicts)
    right = verdicts.count("right")
    return {"captions": len(verdicts), "named": named, "right": right,
            "share_named": named / len(verdicts),
            "share_right_when_named": right / named if named else float("nan")}


def reader_checks(captions: list[str], scenes: list[Scene]) -> dict[str, dict[str, float]]:
    """Both measures of ``captions``, one per scene: ``{"colour_shape": ..., "order": ...}``."""
    return {"colour_shape": colour_shape_rates(captions, scenes),
            "order": order_rates(captions, scenes)}


def _of(part: int, whole: int) -> str:
    """``'  12 of 40    (30%)'``: a count, what it is out of, and the share."""
    share = f"({part / whole:.0%})" if whole else "(-)"
    return f"{part:>4} of {whole:<4} {share:>6}"


def format_checks(checks: dict[str, dict[str, dict[str, float]]]) -> str:
    """A table of :func:`reader_checks` results, one row per label (notebooks 06-08).

    Each cell is a count, what it is counted over, and the share: colour with
    shape right among the captions that name a coloured object; then, over the
    pictures of two or more objects, the captions that state an order, those
    right among them, and those right among all (the order measure).
    """
    width = max(len(label) for label in checks)
    lines = [f"{'':>{width}}  {'colour with shape':>19}  "
             f"{'order, over the pictures of two or more objects':>61}",
             f"{'':>{width}}  {'right when named':>19}  {'states':>19}  "
             f"{'right when stated':>19}  {'right':>19}"]
    for label, check in checks.items():
        pairs, order = check["colour_shape"], check["order"]
        lines.append(f"{label:>{width}}  {_of(pairs['right'], pairs['named'])}  "
                     f"{_of(order['stated'], order['pictures'])}  "
                     f"{_of(order['right'], order['stated'])}  "
                     f"{_of(order['right'], order['pictures'])}")
    return "\n".join(lines)
