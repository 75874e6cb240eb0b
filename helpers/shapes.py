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


def plural(shape: str) -> str:
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


def outline(shape: str, x: int, y: int, r: int) -> list[tuple[float, float]]:
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


def draw_thing(pen: ImageDraw.ImageDraw, t: Thing, fill) -> None:
    r = SIZES[t.size]
    if t.shape == "circle":
        pen.ellipse((t.x - r, t.y - r, t.x + r, t.y + r), fill=fill)
    else:
        pen.polygon(outline(t.shape, t.x, t.y, r), fill=fill)


def draw_scene(scene: Scene, noise_seed: int = 0) -> Image.Image:
    """Render ``scene`` as a 224x224 RGB image, with a little pixel noise like a photo."""
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), BACKGROUNDS[scene.background])
    pen = ImageDraw.Draw(image)
    for t in scene.things:
        draw_thing(pen, t, COLOURS[t.colour])
    noise = np.random.default_rng(noise_seed).normal(0, 6, (IMAGE_SIZE, IMAGE_SIZE, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _count_phrase(things: tuple[Thing, ...] | list[Thing]) -> str:
    """'two red circles and a blue square': identical objects are counted."""
    groups: dict[tuple[str, str], int] = {}
    for t in things:
        groups[(t.colour, t.shape)] = groups.get((t.colour, t.shape), 0) + 1
    parts = [
        _article(f"{colour} {shape}") if n == 1 else f"{_NUMBERS[n]} {colour} {plural(shape)}"
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
    Takes a few seconds for 1,000 images. Only an empty folder or an older shapes
    world is ever replaced: a folder holding anything else (a data folder, a
    download) is refused, so nothing of the learner's is deleted.
    """
    if n_images < 10:
        raise ValueError(f"n_images={n_images}: the shapes world needs at least 10 images")
    root = Path(root).expanduser().resolve()
    stamp = root / "shapes_world.json"
    wanted = _settings_of(n_images, seed)
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return root
    if root.is_file() or (root.is_dir() and not stamp.exists() and any(root.iterdir())):
        raise FileExistsError(
            f"{root} is not empty and holds no shapes world: the shapes world replaces the "
            f"folder it is written to, so it needs one of its own, for example {root / 'shapes'}"
            " (load_dataset('shapes') uses <data folder>/shapes). Nothing was changed.")

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
