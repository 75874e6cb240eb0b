"""The shapes world: a synthetic captioning dataset that needs no download (notebook 01).

Each 224x224 JPEG shows one to three coloured shapes on a plain background,
and comes with five captions phrased differently, as if five people had
described it. The captions mention what a captioner has to *see*: colours,
shapes, sizes, how many objects there are, where they are relative to each
other, and the background. Because the generator knows the truth of every
scene (``scenes.json``), later notebooks can count how often a caption names
the right colours and shapes, next to BLEU.

The world is written in exactly the official Flickr8k layout
(``Flicker8k_Dataset/``, ``Flickr8k.token.txt``, three split files), so the
loader that reads Flickr8k reads it too. Everything follows from ``seed``:
the same seed gives the same images and captions on every machine.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 224
COLOURS = {
    "red": (214, 39, 40),
    "green": (44, 160, 44),
    "blue": (31, 90, 220),
    "yellow": (240, 205, 30),
    "purple": (148, 73, 189),
    "orange": (250, 127, 14),
}
SHAPES = ("circle", "square", "triangle", "diamond", "star")
SIZES = {"small": 17, "large": 32}  # radius in pixels
BACKGROUNDS = {"white": (242, 242, 242), "gray": (128, 128, 128), "black": (22, 22, 22)}
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
FORMAT_VERSION = 1  # bump when a change alters the images or captions

_CELL = IMAGE_SIZE // 3  # the canvas is a 3x3 grid; one object per cell
_NUMBERS = {1: "one", 2: "two", 3: "three"}


@dataclass(frozen=True)
class Thing:
    """One object of a scene: what it is and where its centre is (pixels)."""

    shape: str
    colour: str
    size: str
    x: int
    y: int

    def noun(self, with_size: bool = False) -> str:
        """``'red circle'`` or, with its size, ``'small red circle'``."""
        words = [self.size] if with_size else []
        return " ".join([*words, self.colour, self.shape])

    def a(self, with_size: bool = False) -> str:
        """The noun with its article: ``'a red circle'``, ``'an orange star'``."""
        return _article(self.noun(with_size))


@dataclass(frozen=True)
class Scene:
    """A whole picture: its background, its objects and how they are laid out."""

    background: str
    things: tuple[Thing, ...]
    layout: str  # "single", "row" (left to right) or "column" (top to bottom)


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _plural(shape: str) -> str:
    return shape + "es" if shape.endswith("s") else shape + "s"


def random_scene(rng: random.Random) -> Scene:
    """Draw a scene: 1-3 objects, each in its own cell of a 3x3 grid.

    Two or three objects share a row or a column of the grid, so "left of",
    "right of", "above" and "below" are always clear.
    """
    count = rng.choice((1, 2, 3))
    background = rng.choice(list(BACKGROUNDS))
    layout = "single" if count == 1 else rng.choice(("row", "column"))
    if layout == "single":
        cells = [(rng.randrange(3), rng.randrange(3))]
    else:
        line = rng.randrange(3)
        along = sorted(rng.sample(range(3), count))
        cells = [(a, line) if layout == "row" else (line, a) for a in along]
    things = []
    for col, row in cells:
        size = rng.choice(list(SIZES))
        slack = _CELL // 2 - SIZES[size] - 3
        things.append(
            Thing(
                shape=rng.choice(SHAPES),
                colour=rng.choice([c for c in COLOURS if c != background]),
                size=size,
                x=col * _CELL + _CELL // 2 + rng.randint(-slack, slack),
                y=row * _CELL + _CELL // 2 + rng.randint(-slack, slack),
            )
        )
    return Scene(background, tuple(things), layout)


def _polygon(shape: str, x: int, y: int, r: int) -> list[tuple[float, float]]:
    if shape == "square":
        r = r * 0.85
        return [(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r)]
    if shape == "triangle":
        return [(x, y - r), (x + r * 0.95, y + r * 0.75), (x - r * 0.95, y + r * 0.75)]
    if shape == "diamond":
        return [(x, y - r), (x + r * 0.75, y), (x, y + r), (x - r * 0.75, y)]
    if shape == "star":
        points = []
        for k in range(10):
            radius = r if k % 2 == 0 else r * 0.45
            angle = np.pi / 2 + k * np.pi / 5
            points.append((x + radius * np.cos(angle), y - radius * np.sin(angle)))
        return points
    raise ValueError(f"unknown shape {shape!r}")


def _draw_thing(pen: ImageDraw.ImageDraw, t: Thing, fill) -> None:
    r = SIZES[t.size]
    if t.shape == "circle":
        pen.ellipse((t.x - r, t.y - r, t.x + r, t.y + r), fill=fill)
    else:
        pen.polygon(_polygon(t.shape, t.x, t.y, r), fill=fill)


def draw_scene(scene: Scene, noise_seed: int = 0) -> Image.Image:
    """Render ``scene`` as a 224x224 RGB image, with a little pixel noise like a photo."""
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), BACKGROUNDS[scene.background])
    pen = ImageDraw.Draw(image)
    for t in scene.things:
        _draw_thing(pen, t, COLOURS[t.colour])
    noise = np.random.default_rng(noise_seed).normal(0, 6, (IMAGE_SIZE, IMAGE_SIZE, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _count_phrase(things: tuple[Thing, ...] | list[Thing]) -> str:
    """'two red circles and a blue square': identical objects are counted."""
    groups: dict[tuple[str, str], int] = {}
    for t in things:
        groups[(t.colour, t.shape)] = groups.get((t.colour, t.shape), 0) + 1
    parts = [
        _article(f"{colour} {shape}") if n == 1 else f"{_NUMBERS[n]} {colour} {_plural(shape)}"
        for (colour, shape), n in groups.items()
    ]
    return parts[0] if len(parts) == 1 else " , ".join(parts[:-1]) + " and " + parts[-1]


def describe(scene: Scene, rng: random.Random) -> list[str]:
    """Five captions of ``scene``, each phrased differently, all true."""
    things, bg = scene.things, scene.background
    n = len(things)
    if n == 1:
        t = things[0]
        captions = [
            f"{t.a(True)} on a {bg} background",
            f"{t.a()}",
            f"there is one {t.noun()} on {bg}",
            f"a single {t.noun(True)} in the picture",
            f"a {t.size} {t.shape} coloured {t.colour} on a {bg} background",
        ]
    elif n == 2:
        a, b = things  # a is left of / above b
        before, after = (
            ("to the left of", "to the right of") if scene.layout == "row" else ("above", "below")
        )
        captions = [
            f"{a.a()} {before} {b.a()}",
            f"{b.a()} {after} {a.a()}",
            f"{a.a(True)} and {b.a(True)} on a {bg} background",
            f"two shapes on {bg} , {_count_phrase(things)}",
            f"there is {a.a(True)} {before} {b.a(True)}",
        ]
    else:
        order = "from left to right" if scene.layout == "row" else "from top to bottom"
        listed = f"{things[0].a()} , {things[1].a()} and {things[2].a()}"
        captions = [
            f"{listed} {order}",
            f"three shapes on a {bg} background",
            f"{_count_phrase(things)} on {bg}",
            f"three shapes in a {scene.layout} : {listed}",
            f"{things[1].a()} between {things[0].a()} and {things[2].a()}",
        ]
    rng.shuffle(captions)  # the order of the five people's captions means nothing
    return [c[0].upper() + c[1:] + " ." for c in captions]


def _settings_of(n_images: int, seed: int) -> dict:
    return {"n_images": n_images, "seed": seed, "format_version": FORMAT_VERSION}


def make_shapes_world(root: str | Path, n_images: int = 1000, seed: int = 0) -> Path:
    """Write the shapes world into ``root`` in the official Flickr8k layout.

    Nothing happens when ``root`` already holds the world made with the same
    ``n_images`` and ``seed``; a world made with other settings is replaced.
    The files are written to a temporary folder that is renamed into place at
    the end, so an interrupted run never leaves a half-made world behind.
    Takes a few seconds for 1,000 images.
    """
    if n_images < 10:
        raise ValueError(f"n_images={n_images}: the shapes world needs at least 10 images")
    root = Path(root).expanduser().resolve()
    stamp = root / "shapes_world.json"
    wanted = _settings_of(n_images, seed)
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return root

    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    image_dir = staging / "Flicker8k_Dataset"
    image_dir.mkdir(parents=True)
    rng = random.Random(seed)
    token_lines, scenes, names = [], {}, []
    for index in range(n_images):
        name = f"shapes_{index:05d}.jpg"
        scene = random_scene(rng)
        draw_scene(scene, noise_seed=seed * 1_000_003 + index).save(image_dir / name, quality=90)
        token_lines += [f"{name}#{k}\t{c}" for k, c in enumerate(describe(scene, rng))]
        scenes[name] = {
            "background": scene.background,
            "layout": scene.layout,
            "things": [asdict(t) for t in scene.things],
        }
        names.append(name)

    (staging / "Flickr8k.token.txt").write_text("\n".join(token_lines) + "\n")
    n_train = int(n_images * SPLIT_FRACTIONS["train"])
    n_val = int(n_images * SPLIT_FRACTIONS["val"])
    split_names = {
        "trainImages": names[:n_train],
        "devImages": names[n_train : n_train + n_val],
        "testImages": names[n_train + n_val :],
    }
    for suffix, members in split_names.items():
        (staging / f"Flickr_8k.{suffix}.txt").write_text("\n".join(members) + "\n")
    (staging / "scenes.json").write_text(json.dumps(scenes, indent=1))
    (staging / "shapes_world.json").write_text(json.dumps(wanted))

    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(root)
    return root


def load_scenes(root: str | Path) -> dict[str, Scene]:
    """The ground truth of every image of a shapes world in ``root``."""
    raw = json.loads((Path(root) / "scenes.json").read_text())
    return {
        name: Scene(s["background"], tuple(Thing(**t) for t in s["things"]), s["layout"])
        for name, s in raw.items()
    }


def _shape_word(word: str) -> str | None:
    for shape in SHAPES:
        if word in (shape, _plural(shape)):
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
    _draw_thing(ImageDraw.Draw(mask), thing, 255)
    return np.asarray(mask) > 0


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
    side = int(round(np.sqrt(weights.shape[1])))
    if side * side != weights.shape[1]:
        raise ValueError(f"attention maps of {weights.shape[1]} positions are not a square grid")
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
