"""The encoders the series knows, in one registry that every other module asks (notebook 02).

An encoder turns a 224x224 picture into the numbers the captioner reads: a
vector (notebooks 04-07; called ``fc2`` after VGG16's layer, whatever layer
gives it) and a conv grid (notebook 08), both taken from one forward pass by
layer name. Each entry of :data:`ENCODERS` says:

* its **family**: a network of ``keras.applications`` (``"vgg16"``,
  ``"resnet50v2"``, ``"efficientnetb0"``: ImageNet weights, a seeded random
  initialisation, or a weights file) or ``"shapes-vgg"`` (a small VGG-style
  network pretrained offline on labelled shapes-world scenes,
  :mod:`helpers.shapes_vgg`);
* the names and shapes of its vector and grid layers;
* for a Keras network, its constructor, preprocessing and ImageNet weights
  file (:class:`ImageNetWeights`); for ``shapes-vgg``, the :class:`Recipe`
  of its pretraining.

| name               | network             | vector (``fc2``)   | grid                         |
| ------------------ | ------------------- | ------------------ | ---------------------------- |
| ``vgg16``          | VGG16 (the default) | ``fc2``, 4096      | ``block5_conv3``, 14x14x512  |
| ``resnet50``       | ResNet50V2          | ``avg_pool``, 2048 | ``post_relu``, 7x7x2048      |
| ``efficientnetb0`` | EfficientNetB0      | ``avg_pool``, 1280 | ``top_activation``, 7x7x1280 |
| ``shapes-vgg``     | trained on shapes   | ``fc2``, 1024      | ``block4_conv2``, 14x14x128  |

ResNet50V2's and EfficientNetB0's vector is the global average of their grid,
the last block's activations (Keras' ``pooling="avg"``). Each network gets
its own preprocessing (``keras.applications.<module>.preprocess_input``:
VGG16's BGR minus the mean pixel, ResNet50V2's scaling to [-1, 1];
EfficientNetB0 rescales inside the network and takes pixels 0-255).

A run's choice of encoder is one value, an :class:`EncoderChoice` (the entry,
its weights, where a pretrained ``shapes-vgg`` is kept, the seed of a random
network), made once from the settings (``settings.encoder_choice``) and passed
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
class ImageNetWeights:
    """A Keras network's published ImageNet weights: the file Keras itself downloads.

    ``md5`` is the digest ``keras.applications`` checks; the file is kept
    where Keras keeps it (``~/.keras/models/``), so either of them finds it.
    """

    file: str
    url: str
    md5: str
    megabytes: int  # about, for the messages


_KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications"


@dataclass(frozen=True)
class EncoderSpec:
    """One encoder of the registry: its family, its two layers and their shapes."""

    name: str
    family: str  # "vgg16", "resnet50v2", "efficientnetb0" or "shapes-vgg"
    fc2: str  # the layer whose output is the image vector
    grid: str  # the conv layer whose output is the grid (notebook 08)
    fc2_dim: int
    grid_shape: tuple[int, int, int]
    recipe: Recipe | None = None  # shapes-vgg: how it is pretrained
    keras_name: str | None = None  # its constructor in keras.applications ("VGG16")
    preprocessing: str | None = None  # the keras.applications module of its preprocess_input
    imagenet: ImageNetWeights | None = None
    pooled: bool = False  # the vector is Keras' pooling="avg" (built without the classifier)

    @property
    def takes_weights(self) -> bool:
        """Whether ``CAPTION_ENCODER_WEIGHTS`` chooses its weights (the Keras networks:
        shapes-vgg's weights are those of its pretraining)."""
        return self.keras_name is not None


def shapes_vgg_spec(recipe: Recipe) -> EncoderSpec:
    """The registry entry of a ``shapes-vgg`` network pretrained by ``recipe``."""
    side = IMAGE_SIDE // 16  # halved, then three pools: 224 / 16 = 14
    return EncoderSpec(recipe.name, "shapes-vgg", "fc2", SHAPES_VGG_GRID, recipe.fc_dim,
                       (side, side, recipe.blocks[3][0]), recipe)


ENCODERS: dict[str, EncoderSpec] = {
    "vgg16": EncoderSpec(
        "vgg16", "vgg16", "fc2", "block5_conv3", 4096, (14, 14, 512),
        keras_name="VGG16", preprocessing="vgg16", imagenet=ImageNetWeights(
            "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
            f"{_KERAS_WEIGHTS}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
            "64373286793e3c8b2b4e3219cbf3544b", 528)),
    "shapes-vgg": shapes_vgg_spec(Recipe("shapes-vgg", train_images=2000, test_images=400,
                                     epochs=9)),
    # a faster variant that serves the test world
    "shapes-vgg-small": shapes_vgg_spec(Recipe("shapes-vgg-small", train_images=1200,
                                           test_images=200, epochs=8, patches=8000)),
    # Keras' ResNet50V2 (pre-activation): its last block's output is normalised and
    # activated as post_bn, post_relu, and avg_pool averages post_relu
    "resnet50": EncoderSpec(
        "resnet50", "resnet50v2", "avg_pool", "post_relu", 2048, (7, 7, 2048),
        keras_name="ResNet50V2", preprocessing="resnet_v2", pooled=True,
        imagenet=ImageNetWeights(
            "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
            f"{_KERAS_WEIGHTS}/resnet/resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "fac2f116257151a9d068a22e544a4917", 95)),
    "efficientnetb0": EncoderSpec(
        "efficientnetb0", "efficientnetb0", "avg_pool", "top_activation", 1280, (7, 7, 1280),
        keras_name="EfficientNetB0", preprocessing="efficientnet", pooled=True,
        imagenet=ImageNetWeights(
            "efficientnetb0_notop.h5",
            "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
            "50bc09e76180e00e4465e1a485ddc09d", 17)),
}
"""Every encoder the series knows, by the name ``CAPTION_ENCODER`` takes."""


def encoder_spec(name: str) -> EncoderSpec:
    """The registry's entry for ``name`` (or its Keras name), or an error that lists the choices.

    >>> encoder_spec("ResNet50V2").name
    'resnet50'
    """
    key = str(name).lower()
    spec = ENCODERS.get(key) or next(
        (s for s in ENCODERS.values() if s.keras_name and s.keras_name.lower() == key), None)
    if spec is None:
        raise ValueError(f"Unknown encoder {name!r} (from CAPTION_ENCODER or the encoder "
                         f"argument); choose one of {', '.join(ENCODERS)}.")
    return spec


@dataclass(frozen=True)
class EncoderChoice:
    """The encoder a run uses, with all it takes to build the same network again.

    ``weights`` apply to the Keras networks (VGG16, ResNet50V2, EfficientNetB0):
    ``"imagenet"``, ``"none"`` (a random network from ``seed``) or the path of
    a weights file. A ``shapes-vgg`` network's weights are those of its
    pretraining, kept under ``data_dir``; its ``weights`` read ``"pretrained"``.
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
        a random network, ``shapes-vgg``, whose scale is whatever its minutes of
        pretraining left, and ResNet50V2's or EfficientNetB0's averaged grid.
        """
        return not (self.spec.family == "vgg16" and self.pretrained)


def choose_encoder(name: str = "vgg16", weights: str = "imagenet",
                   data_dir: str | Path | None = None, seed: int = 0) -> EncoderChoice:
    """An :class:`EncoderChoice` by name; ``weights`` are ignored for ``shapes-vgg``.

    >>> choose_encoder("vgg16", "none").pretrained
    False
    >>> choose_encoder("efficientnetb0").standardise  # only ImageNet's VGG16 is fed as it is
    True
    >>> choose_encoder("shapes-vgg", "none").weights
    'pretrained'
    """
    spec = encoder_spec(name)
    return EncoderChoice(spec, str(weights) if spec.takes_weights else "pretrained",
                         Path(data_dir).expanduser().resolve() if data_dir is not None else None,
                         int(seed))
