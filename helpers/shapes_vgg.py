"""``shapes-vgg``: a small VGG-style encoder pretrained on labelled scenes (notebook 02).

Where do "pretrained features" come from? VGG16 learnt its ``fc2`` layer by
classifying 1.2 million labelled ImageNet photos; the captioner then reuses
that layer, frozen. Offline we cannot download those weights, so the shapes
world has its own pretrained encoder: a small VGG-style network (blocks of
3x3 convolutions with ReLU and max pooling, then ``fc1`` and ``fc2``), taught
to name what is in labelled scenes (:mod:`helpers.pretraining`). The
captioner freezes it and takes ``fc2`` by name, exactly as for VGG16; its
14x14 conv grid serves the attention notebook.

This module is the network and loading it, nothing of its training, so that
captioning (:mod:`helpers.caption`) needs no training code. The weights and a
card (what data, how many epochs, held-out accuracy per attribute, time) live
in :func:`encoder_folder`: under the data folder, shared by every run on the
machine, and a copy in each run folder that used them
(:func:`helpers.runs.save_encoder_with`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from helpers.encoders import SHAPES_VGG_GRID, Recipe, encoder_spec
from helpers.images import IMAGE_SIZE

NAME = "shapes-vgg"
WEIGHTS_FILE = "weights.weights.h5"


class NotPretrainedError(FileNotFoundError):
    """A ``shapes-vgg`` encoder has no finished pretraining in the folder it was looked for in."""


def build_shapes_vgg(recipe: Recipe, n_labels: int):
    """The network, as two models that share every layer: ``(encoder_224, trainer_112)``.

    ``encoder_224`` takes 224x224 images with VGG16's preprocessing (BGR minus
    ImageNet's mean), so the same feature pipeline feeds both encoders, and
    halves them with 2x2 average pooling: the shapes need no more detail, and
    it makes the network four times cheaper. ``trainer_112`` starts after the
    halving; pretraining feeds it pictures halved once, in advance. Each block
    is one or two 3x3 convolutions with ReLU, then 2x2 max pooling::

        224 -> 112 -block1-> 56 -block2-> 28 -block3-> 14 -block4-> 7 -block5-> 3 -> fc1 -> fc2
                                                      block4_conv2: the 14x14 grid

    ``fc1`` reads both the 3x3 map (where things are) and the grid's maximum
    over all positions (what is anywhere). Layers are found by name, as in
    VGG16: ``encoder_224.get_layer("fc2")``. Two heads predict the labels:
    ``labels`` from ``fc2``, and ``grid_labels`` straight from the grid's
    maximum, a short path that trains the convolutions faster; ``n_labels``
    outputs each (:data:`helpers.shapes_scenes.LABELS` when pretraining, the
    card's ``labels`` when loading).
    """
    import keras
    from keras import layers

    init = seeded_initialisers(recipe.seed)
    convs = [(f"block{b}_conv{c}", width) for b, (width, n) in enumerate(recipe.blocks, start=1)
             for c in range(1, n + 1)]
    made = {name: layers.Conv2D(width, 3, padding="same", activation="relu", name=name,
                                kernel_initializer=next(init))
            for name, width in convs}
    rescale = layers.Rescaling(1 / 64, name="rescale")
    pools = {b: layers.MaxPooling2D(2, name=f"block{b}_pool") for b in range(1, 6)}
    grid_max = layers.GlobalMaxPooling2D(name="grid_max")
    flatten, join = layers.Flatten(name="flatten"), layers.Concatenate(name="where_and_what")
    fc1 = layers.Dense(recipe.fc_dim, activation="relu", name="fc1", kernel_initializer=next(init))
    fc2 = layers.Dense(recipe.fc_dim, activation="relu", name="fc2", kernel_initializer=next(init))
    head = layers.Dense(n_labels, activation="sigmoid", name="labels",
                        kernel_initializer=next(init))
    grid_head = layers.Dense(n_labels, activation="sigmoid", name="grid_labels",
                             kernel_initializer=next(init))

    def forward(x):
        x = rescale(x)
        for name, _ in convs:
            x = made[name](x)
            if name == SHAPES_VGG_GRID:
                grid = x
            block, conv = name[5], name.split("conv")[1]
            if int(conv) == recipe.blocks[int(block) - 1][1]:  # the block's last conv
                x = pools[int(block)](x)
        anywhere = grid_max(grid)
        features = fc2(fc1(join([flatten(x), anywhere])))
        return {"labels": head(features), "grid_labels": grid_head(anywhere)}

    image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    encoder = keras.Model(image, forward(layers.AveragePooling2D(2, name="halve")(image)),
                          name=recipe.name.replace("-", "_"))
    half = keras.Input((IMAGE_SIZE // 2, IMAGE_SIZE // 2, 3), name="image_112")
    trainer = keras.Model(half, forward(half), name="pretraining")
    return encoder, trainer


def seeded_initialisers(seed: int):
    """Glorot uniform initialisers (Keras' default) seeded from ``seed``, not from the process."""
    import keras

    draw = np.random.default_rng(seed)
    while True:
        yield keras.initializers.GlorotUniform(seed=int(draw.integers(2**31 - 1)))


def recipe_of(encoder: str) -> Recipe:
    """The pretraining recipe of a ``shapes-vgg`` encoder, from the registry."""
    recipe = encoder_spec(encoder).recipe
    if recipe is None:
        raise ValueError(f"{encoder!r} is not a shapes-vgg encoder: it has no pretraining recipe")
    return recipe


def encoder_folder(data_dir: str | Path, recipe: Recipe) -> Path:
    """Where a recipe's weights and card live: ``<data dir>/encoders/<name>-<hash>/``."""
    return Path(data_dir) / "encoders" / recipe.key


def weights_id(card: dict) -> str:
    """What identifies pretrained weights: the recipe and when their pretraining finished."""
    return f"{card['encoder']} {json.dumps(card['recipe'], sort_keys=True)} made {card['made']}"


def describe_weights(weights: str) -> str:
    """A :func:`weights_id` shortened for a printed line (notebooks 02 and 05): the encoder
    and when its pretraining finished, not its whole recipe; other weights as they are.

    >>> describe_weights('shapes-vgg {"epochs": 9} made 2026-11-27 12:24')
    'shapes-vgg, pretrained 2026-11-27 12:24 (its recipe is in its card.json)'
    >>> describe_weights("imagenet")
    'imagenet'
    """
    name, brace, rest = weights.partition(" {")
    if not brace:
        return weights
    return f"{name}, pretrained {rest.rpartition(' made ')[2]} (its recipe is in its card.json)"


def load_card(data_dir: str | Path, encoder: str) -> dict | None:
    """The card of a finished pretraining, or None when there is none yet."""
    path = encoder_folder(data_dir, recipe_of(encoder)) / "card.json"
    return json.loads(path.read_text()) if path.exists() else None


def pretrained_card(data_dir: str | Path, encoder: str = NAME) -> dict:
    """The card of ``encoder``'s finished pretraining in ``data_dir``, whose weights are there.

    Raises :class:`NotPretrainedError`, saying how to pretrain, when there is none.
    """
    folder = encoder_folder(data_dir, recipe_of(encoder))
    card = load_card(data_dir, encoder)
    if card is None or not (folder / WEIGHTS_FILE).exists():
        raise NotPretrainedError(
            f"No pretrained {encoder} in {folder} (card.json and {WEIGHTS_FILE}). Pretrain it "
            "first, once per machine (a few minutes): run notebook 02, or in Python\n"
            "    from helpers.pretraining import pretrain\n"
            f"    pretrain({str(data_dir)!r}, {encoder!r})\n"
            "A run folder that used it carries a copy (its encoders/ folder): to load that "
            "copy, give the run folder in place of the data folder.")
    return card


def load_shapes_vgg(data_dir: str | Path, encoder: str = NAME):
    """The pretrained network on 224x224 inputs, label heads included (notebook 02).

    Only loads: :class:`NotPretrainedError` when ``data_dir`` holds no finished
    pretraining (:func:`helpers.pretraining.pretrain` makes one).
    """
    card = pretrained_card(data_dir, encoder)
    recipe = recipe_of(encoder)
    model, trainer = build_shapes_vgg(recipe, len(card["labels"]))
    trainer.load_weights(encoder_folder(data_dir, recipe) / WEIGHTS_FILE)  # shared layers
    return model
