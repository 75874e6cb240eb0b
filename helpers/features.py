"""Image features from VGG16 (or another encoder), computed once and cached (notebook 02).

The captioner never sees pixels: it sees what VGG16, a network trained to
recognise ImageNet's 1,000 classes, makes of them. We take the 4,096 numbers of
its second fully connected layer ``fc2`` (the last layer before the class
scores) and, for the attention notebook, the 14x14x512 grid of the last
convolution ``block5_conv3``, both from one forward pass. Offline, on the shapes
world, the encoder is ``shapes-vgg`` (:mod:`helpers.shapes_vgg`): the same idea
on a small scale, ``fc2`` of 1,024 numbers and a 14x14 grid. Nothing here
trains it: it is pretrained first (:func:`helpers.pretraining.pretrain`).
Stronger ImageNet networks serve the same way (``CAPTION_ENCODER=resnet50`` or
``efficientnetb0``, :mod:`helpers.encoders`): their vector is the average of
their last block's 7x7 grid.

Extraction is the slowest step of the series, so its result is cached in the
run folder and the cache is treated with care:

* it records what made it (dataset, encoder, weights, layers, image size) and is
  never reused for other settings, nor thrown away: a cache of another encoder
  is refused (each encoder has a run folder of its own), one of other images or
  older pretrained weights is set aside beside it and taken back when asked for;
* it is written batch by batch into memory-mapped ``.npy`` files, with a mask of
  finished batches saved after each one, so an interrupted extraction resumes
  where it stopped and a cache never looks complete when it is not;
* reading it does not load it all into memory (Flickr8k's grids are gigabytes).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from helpers.costs import cost_note
from helpers.distribute import replicated
from helpers.encoders import ENCODERS, EncoderChoice, EncoderSpec
from helpers.feature_cache import FeatureCache, FeatureCacheError, write_json
from helpers.images import IMAGE_SIZE, VGG_MEAN_BGR, image_batches
from helpers.runtime import keras_models_dir
from helpers.shapes_vgg import load_shapes_vgg, pretrained_card, weights_id


class EncoderWeightsError(RuntimeError):
    """The encoder's weights could not be had; the message lists the offline choices."""


IMAGENET_MIRROR: str | None = None
"""A folder URL to fetch ImageNet weights files from instead of Keras' own (the tests: a
local server). Read at each download, so it can be set on the module."""

IMAGENET_CACHE: str | Path | None = None
"""Where downloaded weights are kept (in its ``models/``); ``None``: Keras' own, ``~/.keras``."""

EFFICIENTNET_STDDEV_RGB = (0.229, 0.224, 0.225)
"""ImageNet's pixel spread, as Keras' EfficientNet divides by it once more (see
:func:`_keras_network`)."""


def imagenet_weights(spec: EncoderSpec) -> Path:
    """The ImageNet weights file of a Keras encoder, downloaded once (notebook 02).

    ``keras.utils.get_file`` with the file name, folder (``~/.keras/models/``)
    and MD5 digest that ``keras.applications`` use, so a file either of them
    fetched serves both, a download shows a progress bar, and a partial or
    damaged file is fetched again. When it cannot be had, an
    :class:`EncoderWeightsError` says how to work offline.
    """
    from keras.utils import get_file  # imported here: the registry needs no TensorFlow

    weights = spec.imagenet
    if weights is None:
        raise ValueError(f"the {spec.name} encoder has no ImageNet weights")
    origin = f"{IMAGENET_MIRROR.rstrip('/')}/{weights.file}" if IMAGENET_MIRROR else weights.url
    folder = Path(IMAGENET_CACHE) / "models" if IMAGENET_CACHE else keras_models_dir()
    try:
        return Path(get_file(weights.file, origin, cache_subdir="models", file_hash=weights.md5,
                             cache_dir=str(IMAGENET_CACHE) if IMAGENET_CACHE else None))
    except Exception as err:
        raise EncoderWeightsError(
            f"Could not get {spec.keras_name}'s ImageNet weights ({err}).\n"
            f"Keras downloads them once (about {weights.megabytes} MB) into {folder}/. "
            "Offline you can:\n"
            f"  * copy {weights.file} from a machine with internet into that folder, or "
            "anywhere and set CAPTION_ENCODER_WEIGHTS=/path/to/that/file, or\n"
            "  * set CAPTION_ENCODER_WEIGHTS=none for a randomly initialised encoder "
            "(fine on the shapes world, poor on real photos)."
        ) from err


def build_encoder(choice: EncoderChoice, grid: bool = False):
    """The encoder cut at ``fc2`` (and at its conv grid when ``grid``), layers taken by name.

    ``choice`` (``settings.encoder_choice``, or :func:`helpers.encoders.choose_encoder`)
    says which network. For a Keras network (VGG16, ResNet50V2, EfficientNetB0),
    its weights: ``"imagenet"`` (downloaded once, :func:`imagenet_weights`),
    ``"none"`` (random initialisation from its seed: no download, the same
    network on every machine) or the path of a weights file of that network
    (for ResNet50V2 and EfficientNetB0, the file without the classifier,
    ``..._notop.h5``). Every encoder reads the same input, pictures with VGG16's
    preprocessing (:func:`helpers.images.load_image`); ResNet50V2 and
    EfficientNetB0 turn it into their own first (:func:`_keras_network`).
    ``shapes-vgg`` is the small network pretrained on shapes-world scenes,
    loaded from ``choice.data_dir`` (a data folder, or a run folder, which
    carries a copy): :class:`helpers.shapes_vgg.NotPretrainedError` says how to
    pretrain it when it holds none (:func:`helpers.pretraining.pretrain`).
    """
    import keras

    spec, weights = choice.spec, choice.weights
    layers = [spec.fc2, spec.grid] if grid else [spec.fc2]
    if spec.family == "shapes-vgg":
        if choice.data_dir is None:
            raise ValueError(f"the {spec.name} encoder needs a data folder: the one that holds "
                             "its pretrained weights; choose it with "
                             "choose_encoder(name, data_dir=...) or settings.encoder_choice")
        base = load_shapes_vgg(choice.data_dir, spec.name)
        outputs = [base.get_layer(name).output for name in layers]
        return keras.Model(base.input, outputs, name=spec.name.replace("-", "_") + "_encoder")
    if weights == "none":
        base = _seeded(lambda: _keras_network(spec, None), choice.seed)
    else:
        path = imagenet_weights(spec) if weights == "imagenet" else Path(weights).expanduser()
        if not path.is_file():
            raise EncoderWeightsError(
                f"CAPTION_ENCODER_WEIGHTS={weights!r} is neither 'imagenet', 'none' nor a file."
            )
        try:
            base = _keras_network(spec, path)
        except Exception as err:
            article = "an" if spec.keras_name[0] in "AEIOU" else "a"
            raise EncoderWeightsError(
                f"{path} is not {article} {spec.keras_name} weights file (Keras' is "
                f"{spec.imagenet.file}): {err}") from err
    outputs = [base.get_layer(name).output for name in layers]
    return keras.Model(base.inputs[0], outputs, name=f"{spec.name}_encoder")


def _keras_network(spec: EncoderSpec, weights: Path | None):
    """The ``keras.applications`` network of ``spec``, reading VGG16-preprocessed pictures.

    VGG16 is built as Keras builds it, classifier and all (``fc2`` is in it).
    ResNet50V2 and EfficientNetB0 are built without their classifier, averaged
    by ``pooling="avg"`` (layer ``avg_pool``), behind one layer that undoes
    VGG16's preprocessing (back to RGB pixels 0-255) and applies their own
    ``preprocess_input``. Keras' EfficientNet, given ImageNet weights by name,
    also divides its normalised input by the square root of ImageNet's pixel
    spread (to match the original network, tensorflow/tensorflow#49930); a
    weights file loaded by path would miss that step, so it is put into the
    ``Normalization`` layer here: a file behaves exactly as ``"imagenet"``.
    """
    import keras

    build = getattr(keras.applications, spec.keras_name)
    path = None if weights is None else str(weights)
    if not spec.pooled:
        return build(weights=path)
    preprocess_input = getattr(keras.applications, spec.preprocessing).preprocess_input

    def own_preprocessing(images):
        return preprocess_input(keras.ops.flip(images + VGG_MEAN_BGR, axis=-1))

    images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="images")
    pixels = keras.layers.Lambda(own_preprocessing, name=f"{spec.preprocessing}_preprocessing")
    network = build(include_top=False, weights=path, pooling="avg",
                    input_tensor=pixels(images))
    if path is not None and spec.family == "efficientnetb0":
        norm = next(x for x in network.layers if isinstance(x, keras.layers.Normalization))
        mean, variance, count = norm.get_weights()
        norm.set_weights([mean, variance * np.float32(EFFICIENTNET_STDDEV_RGB), count])
        norm.finalize_state()  # the layer divides by what it read at loading otherwise
    return network


def _seeded(build: Callable, seed: int):
    """``build()`` with Python's ``random`` seeded: a random network, the same on every machine.

    Keras' applications take no seed: each layer draws its initialisers' seeds
    from Python's ``random``. So that state is seeded for the build and put
    back afterwards, and a learner's own random sequences go on as before
    (notebook 02).
    """
    state = random.getstate()
    random.seed(seed)
    try:
        return build()
    finally:
        random.setstate(state)


def cache_settings(dataset_name: str, choice: EncoderChoice, grid: bool,
                   pretrained: str | None = None) -> dict:
    """What makes a cache: a cache made with other settings is not reused.

    For ``shapes-vgg``, ``weights`` is ignored: ``pretrained`` (the recipe and
    when its pretraining finished, from :func:`helpers.shapes_vgg.weights_id`)
    stands for the weights, so weights pretrained again mean features made again.
    A Keras network is named as Keras names it (``"VGG16"``, ``"ResNet50V2"``).
    """
    spec = choice.spec
    if spec.takes_weights:
        made_by = {"encoder": spec.keras_name, "weights": choice.weights}
    else:
        made_by = {"encoder": spec.name, "weights": pretrained}
    return {
        "dataset": dataset_name,
        **made_by,
        "layers": [spec.fc2, spec.grid] if grid else [spec.fc2],
        "image_size": IMAGE_SIZE,
    }


_KERAS_NAMES = {spec.keras_name for spec in ENCODERS.values() if spec.takes_weights}


def _made_by(settings: dict) -> tuple:
    """The dataset and encoder of a cache (a Keras network's weights too): what a run folder
    is kept for."""
    weights = settings["weights"] if settings["encoder"] in _KERAS_NAMES else None
    return settings["dataset"], settings["encoder"], weights


def _shelf(folder: Path, meta: dict) -> Path:
    """Where a cache of the same encoder but other images or weights is kept, beside ``folder``.

    A run folder's cache is never thrown away: one made from other images (a
    shapes world of another size) or older pretrained weights moves to
    ``features-<key>``, and a run that asks for it again takes it back.
    ``meta`` holds the cache's ``settings`` and ``names``; its layers do not
    count (a cache with the grid also serves ``fc2``).
    """
    made = {k: v for k, v in meta["settings"].items() if k != "layers"}
    key = hashlib.sha1(json.dumps([made, meta["names"]], sort_keys=True).encode()).hexdigest()
    return folder.with_name(f"{folder.name}-{key[:10]}")


def _cache_holds(cached: dict, wanted: dict) -> bool:
    """True when a cache made with ``cached`` settings holds everything ``wanted`` asks for."""
    same = {k: v for k, v in cached.items() if k != "layers"}
    return (same == {k: v for k, v in wanted.items() if k != "layers"}
            and set(wanted["layers"]) <= set(cached["layers"]))


def extract_features(
    dataset,
    run_dir: str | Path,
    choice: EncoderChoice,
    grid: bool = False,
    batch_size: int = 32,
    progress: bool = True,
    stop_after_batches: int | None = None,
    strategy=None,
) -> FeatureCache:
    """Compute (or resume, or reuse) the feature cache of every image of ``dataset``.

    Returns the :class:`FeatureCache` in ``<run_dir>/features``. Unreadable
    images are skipped and listed in ``cache.failed``. ``stop_after_batches``
    stops early, as an interruption would (used by the tests and notebook 02).
    ``choice`` is the encoder, as for :func:`build_encoder`: a ``shapes-vgg``
    must be pretrained first (:func:`helpers.pretraining.pretrain`), else
    :class:`helpers.shapes_vgg.NotPretrainedError` says how. ``strategy`` (a
    ``tf.distribute.Strategy``, :func:`helpers.distribute.make_strategy`) splits
    each batch between its devices; :mod:`helpers.sharding` splits the images
    between processes or machines.
    """
    from tqdm import tqdm  # a text bar: a saved or exported notebook shows it finished

    folder = Path(run_dir) / "features"
    cache = FeatureCache(folder)
    pretrained = None
    layer_names = choice.spec
    if layer_names.family == "shapes-vgg":  # its weights are those its card names
        if choice.data_dir is None:
            raise ValueError(f"the {choice.name} encoder needs the data folder of its pretrained "
                             "weights: pass settings.encoder_choice, or "
                             "choose_encoder(name, data_dir=...)")
        pretrained = weights_id(pretrained_card(choice.data_dir, choice.name))
    wanted = cache_settings(dataset.name, choice, grid, pretrained)
    names = sorted(dataset.captions)
    meta_path = folder / "meta.json"
    meta = cache.meta if meta_path.exists() else None
    if meta is not None and not grid and _cache_holds(meta["settings"], wanted):
        wanted = meta["settings"]  # a cache that also holds the grid serves fc2 as it is
    if meta is not None and _made_by(meta["settings"]) != _made_by(wanted):
        raise FeatureCacheError(
            f"{folder} holds features of another dataset or encoder "
            f"({', '.join(map(str, filter(None, _made_by(meta['settings']))))}); this run asks for "
            f"{', '.join(map(str, filter(None, _made_by(wanted))))}. They are kept: use the "
            "default run folder, one per encoder (runs/<dataset>/<encoder>), or another "
            "CAPTION_RUN_DIR, or delete that folder yourself if you no longer need it.")
    shelved = _shelf(folder, {"settings": wanted, "names": names})
    if meta is not None and (kept := _shelf(folder, meta)) != shelved:
        # made by this encoder from other images or older pretrained weights: kept on a shelf
        shutil.rmtree(kept, ignore_errors=True)  # an older copy of the same
        folder.rename(kept)
        meta = None
    if meta is None and (shelved / "meta.json").exists():  # made before: taken back, not redone
        shelved.rename(folder)
        meta = cache.meta
        if not grid and _cache_holds(meta["settings"], wanted):
            wanted = meta["settings"]
    if meta is None or meta["settings"] != wanted:
        # absent, or without the grid asked for: (re)made here, the grid with fc2
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shape = (len(names), layer_names.fc2_dim)
        np.lib.format.open_memmap(folder / "fc2.npy", "w+", np.float32, shape)
        if grid:  # float16 halves the size of the grid (Flickr8k: 1.6 GB instead of 3.2)
            shape = (len(names), *layer_names.grid_shape)
            np.lib.format.open_memmap(folder / f"{layer_names.grid}.npy", "w+", np.float16, shape)
        meta = {"settings": wanted, "names": names, "batch_size": batch_size,
                "done_batches": [], "failed": [], "complete": False}
        write_json(meta_path, meta)
    if meta["complete"]:
        return cache

    batch_size = meta["batch_size"]  # a resumed run keeps the batches of the first run
    n_batches = -(-len(names) // batch_size)
    done = set(meta["done_batches"])
    todo = [b for b in range(n_batches) if b not in done]
    if not todo:
        meta["complete"] = True
        write_json(meta_path, meta)
        return cache

    import tensorflow as tf

    with (strategy or tf.distribute.get_strategy()).scope():  # weights on every device
        network = build_encoder(choice, grid=grid)
    run = replicated(tf.function(lambda x: network(x, training=False), reduce_retracing=True),
                     strategy)
    fc2 = np.load(folder / "fc2.npy", mmap_mode="r+")
    grids = np.load(folder / f"{layer_names.grid}.npy", mmap_mode="r+") if grid else None
    # Only the unfinished batches go through the pipeline, in their original groups.
    order = [i for b in todo for i in range(b * batch_size, min((b + 1) * batch_size, len(names)))]
    paths = [str(dataset.image_path(names[i])) for i in order]
    note = cost_note(f"{layer_names.family} features", len(order)) if progress else None
    if note:  # a long extraction says so before it starts, with the way out
        print(note, flush=True)
    bar = tqdm(total=len(names), initial=len(names) - len(order), unit="img",
               desc=f"{wanted['encoder']} features", disable=not progress, file=sys.stdout,
               mininterval=2)
    for step, (images, readable) in enumerate(image_batches(paths, batch_size)):
        b = todo[step]
        rows = slice(b * batch_size, b * batch_size + len(images))
        outputs = run(images)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        fc2[rows] = outputs[0].numpy()
        if grids is not None:
            grids[rows] = outputs[1].numpy().astype(np.float16)
        fc2.flush()
        if grids is not None:
            grids.flush()
        bad = [names[rows.start + i] for i, ok in enumerate(readable.numpy()) if not ok]
        meta["failed"] += bad
        meta["done_batches"].append(b)
        write_json(meta_path, meta)  # only now is this batch counted as done
        bar.update(len(images))
        if stop_after_batches is not None and step + 1 >= stop_after_batches:
            bar.close()
            return cache
    bar.close()
    meta["complete"] = True
    write_json(meta_path, meta)
    if meta["failed"]:
        import warnings

        warnings.warn(
            f"skipped {len(meta['failed'])} unreadable images: {', '.join(meta['failed'][:5])}",
            stacklevel=2,
        )
    return cache
