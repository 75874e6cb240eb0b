"""Labelled scenes for pretraining ``shapes-vgg``, and the linear probe (notebook 02).

The pretraining pictures are drawn with more variety than the captioning
world (any position, turned, shaded colours, noisy backgrounds, JPEG quality
from poor to good) and from seeds of their own, never the captioning images.
Each is labelled with its truth (:data:`LABELS`), a multi-label target.
:func:`probe` asks how much of that truth a straight line can read off frozen
features.
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageDraw
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from helpers.images import preprocess
from helpers.shapes import BACKGROUNDS, COLOURS, IMAGE_SIZE, SHAPES, SIZES, outline

COUNTS = (1, 2, 3)


PAIRS = tuple((c, s) for c in COLOURS for s in SHAPES)


LABELS = (
    [f"colour:{c}" for c in COLOURS]
    + [f"shape:{s}" for s in SHAPES]
    + [f"size:{s}" for s in SIZES]
    + [f"count:{n}" for n in COUNTS]
    + [f"background:{b}" for b in BACKGROUNDS]
    + [f"pair:{c} {s}" for c, s in PAIRS]
)
"""What the pretraining predicts, one sigmoid output each (multi-label)."""


ATTRIBUTES = ("colour", "shape", "size", "count", "background", "pair")
"""Label groups; the card reports how often each group is predicted exactly."""


def _rotated_outline(shape: str, x: float, y: float, r: float, angle: float):
    """The corners of ``shape`` (as the captioning world draws it) centred on (x, y), turned."""
    cos, sin = math.cos(angle), math.sin(angle)
    return [(x + px * cos - py * sin, y + px * sin + py * cos)
            for px, py in outline(shape, 0, 0, r)]


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, ...]:
    return tuple(min(255, max(0, v + rng.randint(-amount, amount))) for v in rgb)


def varied_scene(rng: random.Random) -> tuple[dict, list[dict]]:
    """A random scene for pretraining: background and 1-3 objects placed anywhere, apart."""
    count = rng.choice(COUNTS)
    background = rng.choice(list(BACKGROUNDS))
    things: list[dict] = []
    while len(things) < count:
        size = rng.choice(list(SIZES))
        r = SIZES[size] * rng.uniform(0.8, 1.15)
        x, y = rng.uniform(r + 2, IMAGE_SIZE - r - 2), rng.uniform(r + 2, IMAGE_SIZE - r - 2)
        if all(math.hypot(x - t["x"], y - t["y"]) > r + t["r"] + 4 for t in things):
            things.append({
                "shape": rng.choice(SHAPES), "size": size, "r": r, "x": x, "y": y,
                "colour": rng.choice([c for c in COLOURS if c != background]),
                "angle": rng.uniform(-0.3, 0.3),
            })
    return {"background": background}, things


def draw_varied(background: str, things: list[dict], rng: random.Random,
                side: int = IMAGE_SIZE) -> np.ndarray:
    """Render a pretraining scene as (side, side, 3) uint8, with texture, noise and JPEG."""
    smooth = rng.random() < 0.5  # draw at twice the size and shrink: antialiased edges
    scale = 2 if smooth else 1
    base = np.array(_jitter(BACKGROUNDS[background], rng, 12), dtype=np.float32)
    # a gentle gradient across the picture, as uneven light would give
    gx, gy = rng.uniform(-18, 18), rng.uniform(-18, 18)
    ramp = np.linspace(-1, 1, side, dtype=np.float32)
    canvas = base + gx * ramp[None, :, None] + gy * ramp[:, None, None]
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    image = image.resize((side * scale, side * scale))
    pen = ImageDraw.Draw(image)
    for t in things:
        fill = _jitter(COLOURS[t["colour"]], rng, 20)
        x, y, r = t["x"] * scale, t["y"] * scale, t["r"] * scale
        if t["shape"] == "circle":
            pen.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        else:
            pen.polygon(_rotated_outline(t["shape"], x, y, r, t["angle"]), fill=fill)
    if smooth:
        image = image.resize((side, side), Image.Resampling.BOX)
    pixels = np.asarray(image, dtype=np.float32)
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(0, 12), pixels.shape)
    image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=rng.randint(35, 95))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def labels_of(background: str, things: list[dict]) -> np.ndarray:
    """The multi-label target of a scene (see :data:`LABELS`); works for captioning scenes too."""
    get = (lambda t, k: t[k]) if isinstance(things[0], dict) else getattr
    present = {f"background:{background}", f"count:{len(things)}"}
    for t in things:
        colour, shape, size = get(t, "colour"), get(t, "shape"), get(t, "size")
        present |= {f"colour:{colour}", f"shape:{shape}", f"size:{size}",
                    f"pair:{colour} {shape}"}
    return np.array([label in present for label in LABELS], dtype=np.float32)


def make_pretraining_set(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` varied scenes from ``seed``: images (n, 224, 224, 3) uint8 and labels (n, labels)."""
    rng = random.Random(seed)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    labels = np.empty((n, len(LABELS)), np.float32)
    for i in range(n):
        scene, things = varied_scene(rng)
        images[i] = draw_varied(scene["background"], things, rng)
        labels[i] = labels_of(scene["background"], things)
    return images, labels


PATCH_SIZE = 80
"""Side of a single-object picture (stage a): the largest object, turned, fits."""


PATCH_TASKS = {"shape": SHAPES, "colour": tuple(COLOURS), "background": tuple(BACKGROUNDS)}
"""What stage a predicts about its one object, one softmax each."""


def one_object(rng: random.Random) -> tuple[str, dict]:
    """A single random object near the middle of a :data:`PATCH_SIZE` picture."""
    background = rng.choice(list(BACKGROUNDS))
    size = rng.choice(list(SIZES))
    r = SIZES[size] * rng.uniform(0.8, 1.15)
    middle = PATCH_SIZE / 2
    slack = max(0.0, min(8.0, middle - 1.05 * r - 1))  # a turned outline reaches past r
    return background, {
        "shape": rng.choice(SHAPES), "size": size, "r": r,
        "x": middle + rng.uniform(-slack, slack), "y": middle + rng.uniform(-slack, slack),
        "colour": rng.choice([c for c in COLOURS if c != background]),
        "angle": rng.uniform(-0.3, 0.3),
    }


def make_patch_set(n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` single-object pictures (n, 80, 80, 3) uint8 and, per task, each one's class index."""
    rng = random.Random(seed)
    images = np.empty((n, PATCH_SIZE, PATCH_SIZE, 3), np.uint8)
    targets = {task: np.empty(n, np.int32) for task in PATCH_TASKS}
    for i in range(n):
        background, thing = one_object(rng)
        images[i] = draw_varied(background, [thing], rng, side=PATCH_SIZE)
        for task, classes in PATCH_TASKS.items():
            targets[task][i] = classes.index(background if task == "background" else thing[task])
    return images, targets


def group_accuracy(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """For each attribute, the share of scenes whose labels in that group are all right.

    ``predicted`` holds probabilities (thresholded at 0.5) or 0/1 labels. For
    ``colour`` it is the share of scenes whose *exact set* of colours was
    predicted: every colour present found, no absent one claimed.
    """
    guess = np.asarray(predicted) >= 0.5
    truth = np.asarray(truth) >= 0.5
    result = {}
    for attribute in ATTRIBUTES:
        columns = [i for i, label in enumerate(LABELS) if label.startswith(attribute + ":")]
        result[attribute] = float(np.mean(np.all(guess[:, columns] == truth[:, columns], axis=1)))
    return result


def probe(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray,
          test_labels: np.ndarray, ridge: float = 1.0) -> dict[str, float]:
    """Fit a linear read-out of the labels on frozen features; held-out accuracy per attribute.

    The classic test of features (notebook 02): if a straight line through
    them separates "has a red object" from "has none", the captioner can read
    it off too. Features are standardised with the training set's statistics;
    the read-out is scikit-learn's ridge regression (no training loop).
    ``ridge`` is relative: the penalty is ``ridge`` times the mean squared
    length of a standardised feature vector (about the number of features), so
    ``ridge=1`` shrinks as much with 512 features as with 4,096.
    """
    scaler = StandardScaler().fit(train_features)
    a, b = scaler.transform(train_features), scaler.transform(test_features)
    alpha = ridge * float(np.mean(np.sum(a * a, axis=1)))
    readout = Ridge(alpha=max(alpha, 1e-6)).fit(a, train_labels)
    return group_accuracy(readout.predict(b), test_labels)


def scene_labels(scenes: dict, names: list[str]) -> np.ndarray:
    """:func:`labels_of` for images of a captioning shapes world (from ``load_scenes``)."""
    return np.stack([labels_of(scenes[n].background, list(scenes[n].things)) for n in names])


def halve(images: np.ndarray) -> np.ndarray:
    """uint8 RGB images (n, side, side, 3) preprocessed as for VGG16 and halved.

    Exactly what the encoder's first two steps do (the feature pipeline's
    preprocessing, then 2x2 average pooling), done once before pretraining.
    """
    half = images.shape[1] // 2
    out = np.empty((len(images), half, half, 3), np.float32)
    for start in range(0, len(images), 256):  # in slices: a float copy of all is large
        part = preprocess(images[start:start + 256])
        out[start:start + 256] = part.reshape(len(part), half, 2, half, 2, 3).mean(axis=(2, 4))
    return out


def scene_batches(images: np.ndarray, targets, batch_size: int, seed: int, epochs: range,
                  flips: bool = True):
    """Pretraining batches (:mod:`helpers.pretraining`) of ``epochs``, one after another.

    Epoch *e* is shuffled from ``seed + e``.
    Random flips (from the same seed) keep every label true: the labels say
    *what* is in the scene, not where, so they give new pictures for free. A
    resumed training sees exactly what an uninterrupted one would have seen.
    """
    import tensorflow as tf

    pictures = tf.data.Dataset.from_tensor_slices((images, targets))

    def flip(pair, coin):
        image, target = pair
        image = tf.where(coin % 2 == 1, image[:, ::-1], image)
        return tf.where(coin // 2 % 2 == 1, image[::-1], image), target

    def epoch(number):
        data = pictures.shuffle(len(images), seed=seed + number)
        if flips:
            coins = tf.data.Dataset.random(seed=seed + number)
            data = tf.data.Dataset.zip(data, coins).map(flip, num_parallel_calls=tf.data.AUTOTUNE)
        return data.batch(batch_size)

    return tf.data.Dataset.range(epochs.start, epochs.stop).flat_map(epoch).prefetch(2)
