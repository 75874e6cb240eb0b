"""The encoders the series knows, in one registry that every other module asks (notebook 02).

An encoder turns a 224x224 picture into the numbers the captioner reads: the
``fc2`` vector (notebooks 04-07) and a conv grid (notebook 08), both taken
from one forward pass by layer name. Each entry of :data:`ENCODERS` says:

* its **family**: ``"vgg16"`` (Keras' VGG16: ImageNet weights, a seeded random
  initialisation, or a weights file) or ``"shapes-vgg"`` (a small VGG-style
  network pretrained offline on labelled shapes-world scenes,
  :mod:`helpers.shapes_vgg`);
* the names and shapes of its ``fc2`` and grid layers;
* for ``shapes-vgg``, the :class:`Recipe` of its pretraining.

A run's choice of encoder is one value, an :class:`EncoderChoice` (the entry,
its weights, where a pretrained ``shapes-vgg`` is kept, the seed of a random
VGG16), made once from the settings (``settings.encoder_choice``) and passed
whole to whatever builds, caches, standardises or records an encoder.

This module is data only: it imports no TensorFlow. Building an encoder is
:func:`helpers.features.build_encoder`'s job.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

IMAGE_SIDE = 224  # every encoder reads 224x224 RGB pictures
SHAPES_VGG_GRID = "block4_conv2"  # shapes-vgg's conv grid (VGG16's is block5_conv3)


@dataclass(frozen=True)
class Recipe:
    """Everything that makes a pretrained ``shapes-vgg``; another recipe means other weights."""

    name: str
    train_images: int
    test_images: int
    epochs: int
    blocks: tuple[tuple[int, int], ...] = ((16, 1), (32, 1), (64, 2), (128, 2), (128, 1))
    fc_dim: int = 1024
    batch_size: int = 16
    learning_rate: float = 1e-3
    patches: int = 12000  # stage a: single-object pictures
    patch_epochs: int = 2
    frozen_blocks: int = 3  # stage b keeps blocks 1..frozen_blocks as stage a left them
    seed: int = 1234  # the pretraining scenes' own seed, not the captioning world's
    version: int = 3  # bump when the drawing, the network or its training changes

    def __post_init__(self):
        if len(self.blocks) != 5 or self.blocks[3][1] != 2:
            raise ValueError(f"recipe {self.name!r}: the network needs five blocks, the fourth "
                             f"of two convolutions (its second, {SHAPES_VGG_GRID}, is the grid); "
                             f"got {self.blocks}")

    @property
    def key(self) -> str:
        """A short name for the cache folder."""
        text = json.dumps(asdict(self), sort_keys=True)
        return f"{self.name}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class EncoderSpec:
    """One encoder of the registry: its family, its two layers and their shapes."""

    name: str
    family: str  # "vgg16" or "shapes-vgg"
    fc2: str  # the layer whose output is the image vector
    grid: str  # the conv layer whose output is the grid (notebook 08)
    fc2_dim: int
    grid_shape: tuple[int, int, int]
    recipe: Recipe | None = None  # shapes-vgg: how it is pretrained

    @property
    def takes_weights(self) -> bool:
        """Whether ``CAPTION_ENCODER_WEIGHTS`` chooses its weights (VGG16 only: shapes-vgg's
        weights are those of its pretraining)."""
        return self.family == "vgg16"


def shapes_vgg_spec(recipe: Recipe) -> EncoderSpec:
    """The registry entry of a ``shapes-vgg`` network pretrained by ``recipe``."""
    side = IMAGE_SIDE // 16  # halved, then three pools: 224 / 16 = 14
    return EncoderSpec(recipe.name, "shapes-vgg", "fc2", SHAPES_VGG_GRID, recipe.fc_dim,
                       (side, side, recipe.blocks[3][0]), recipe)


ENCODERS: dict[str, EncoderSpec] = {
    "vgg16": EncoderSpec("vgg16", "vgg16", "fc2", "block5_conv3", 4096, (14, 14, 512)),
    "shapes-vgg": shapes_vgg_spec(Recipe("shapes-vgg", train_images=2000, test_images=400,
                                     epochs=9)),
    # a faster variant that serves the test world
    "shapes-vgg-small": shapes_vgg_spec(Recipe("shapes-vgg-small", train_images=1200,
                                           test_images=200, epochs=8, patches=8000)),
}
"""Every encoder the series knows, by the name ``CAPTION_ENCODER`` takes."""


def encoder_spec(name: str) -> EncoderSpec:
    """The registry's entry for ``name``, or an error that lists the choices."""
    spec = ENCODERS.get(str(name).lower())
    if spec is None:
        raise ValueError(f"Unknown encoder {name!r} (from CAPTION_ENCODER or the encoder "
                         f"argument); choose one of {', '.join(ENCODERS)}.")
    return spec


@dataclass(frozen=True)
class EncoderChoice:
    """The encoder a run uses, with all it takes to build the same network again.

    ``weights`` apply to VGG16 only: ``"imagenet"``, ``"none"`` (a random VGG16
    from ``seed``) or the path of a weights file. A ``shapes-vgg`` network's
    weights are those of its pretraining, kept under ``data_dir``; its
    ``weights`` read ``"pretrained"``.
    """

    spec: EncoderSpec
    weights: str = "imagenet"
    data_dir: Path | None = None
    seed: int = 0

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pretrained(self) -> bool:
        """Whether the network was trained (ImageNet, a weights file, or shapes-vgg's pretraining).

        A path to a weights file counts as pretrained: it is how ImageNet
        weights are used offline, and it must behave exactly like ``"imagenet"``.
        """
        return not self.spec.takes_weights or self.weights != "none"

    @property
    def standardise(self) -> bool:
        """Whether its features get standardised before the captioner reads them (notebook 04).

        ImageNet's VGG16 feeds ``fc2`` to the model as it is, as the original
        tutorial does. Any other encoder gives activations of an arbitrary scale:
        a random VGG16, and ``shapes-vgg``, whose scale is whatever its minutes of
        pretraining left.
        """
        return not (self.spec.takes_weights and self.pretrained)


def choose_encoder(name: str = "vgg16", weights: str = "imagenet",
                   data_dir: str | Path | None = None, seed: int = 0) -> EncoderChoice:
    """An :class:`EncoderChoice` by name; ``weights`` are ignored for ``shapes-vgg``.

    >>> choose_encoder("vgg16", "none").pretrained
    False
    >>> choose_encoder("shapes-vgg", "none").weights
    'pretrained'
    """
    spec = encoder_spec(name)
    return EncoderChoice(spec, str(weights) if spec.takes_weights else "pretrained",
                         Path(data_dir).expanduser().resolve() if data_dir is not None else None,
                         int(seed))
