"""Other encoders behind the one registry: ResNet50V2 and EfficientNetB0 (helpers.encoders,
helpers.features; notebook 02).

With random weights on the shapes world: their layers and shapes, their own preprocessing, the
feature cache, and a model trained one epoch that captions from its run folder. The ImageNet
download runs against a local server: nothing is downloaded from the internet.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import json
import random
import threading
import warnings

import numpy as np
import pytest

from helpers import features
from helpers.caption import Captioner, main
from helpers.data import load_dataset
from helpers.encoders import ENCODERS, choose_encoder, encoder_spec
from helpers.feature_cache import FeatureCacheError
from helpers.features import EncoderWeightsError, build_encoder, extract_features
from helpers.images import preprocess
from helpers.pipeline import load_or_train, prepare
from helpers.runs import encoder_fingerprint, model_dir
from helpers.settings import get_settings, run_name

KERAS = ["resnet50", "efficientnetb0"]
LAYERS = {  # vector layer and size, grid layer and shape: the last block's activations
    "resnet50": ("avg_pool", 2048, "post_relu", (7, 7, 2048)),
    "efficientnetb0": ("avg_pool", 1280, "top_activation", (7, 7, 1280)),
}


def close(a, b, rtol=1e-4):
    """Equal up to ``rtol`` of the larger's scale (a random EfficientNet's numbers are ~1e-6)."""
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.abs(b).max()))


def test_the_registry_names_their_layers_weights_and_run_folders(monkeypatch):
    monkeypatch.delenv("CAPTION_RUN_DIR")  # the default run folder, named after the encoder
    for name, (vector, dim, grid, shape) in LAYERS.items():
        spec = encoder_spec(name)
        assert (spec.fc2, spec.fc2_dim, spec.grid, spec.grid_shape) == (vector, dim, grid, shape)
        assert spec.takes_weights and spec.imagenet.file.endswith("_notop.h5")
        assert choose_encoder(name).standardise  # only ImageNet's VGG16 is fed as it is
        settings = get_settings(dataset="flickr8k", encoder=name, encoder_weights="none")
        assert settings.run_dir.parts[-2:] == ("flickr8k", f"{name}-random")
        assert "encoder weights  none" in settings.as_table()
        assert run_name(name, "/w/their_weights.h5") == f"{name}-their_weights"
    assert encoder_spec("ResNet50V2") is encoder_spec("resnet50")  # Keras' name serves too
    assert not choose_encoder("vgg16").standardise


@pytest.mark.parametrize("name", KERAS)
def test_a_random_network_reads_the_series_input_with_its_own_preprocessing(name):
    """Pictures come preprocessed for VGG16; the encoder gives what Keras' network gives for
    its own ``preprocess_input`` of the same pixels, seeded, leaving Python's random alone."""
    import keras

    spec = encoder_spec(name)
    rgb = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3)).astype(np.uint8)
    random.seed(7)
    expected_draw = random.random()
    random.seed(7)
    encoder = build_encoder(choose_encoder(name, "none", seed=3), grid=True)
    assert random.random() == expected_draw
    assert [tuple(o.shape) for o in encoder.outputs] == [(None, spec.fc2_dim),
                                                         (None, *spec.grid_shape)]
    vector, grid = encoder.predict(preprocess(rgb), verbose=0)
    close(vector, grid.mean(axis=(1, 2)))  # the vector is the grid's average
    random.seed(3)
    network = getattr(keras.applications, spec.keras_name)(
        include_top=False, weights=None, pooling="avg", input_shape=(224, 224, 3))
    own = getattr(keras.applications, spec.preprocessing).preprocess_input
    close(vector, network.predict(own(rgb.astype(np.float32)), verbose=0))
    fingerprint = encoder_fingerprint(encoder)
    assert encoder_fingerprint(network) == fingerprint  # seed 3 makes the same network
    assert encoder_fingerprint(build_encoder(choose_encoder(name, "none", seed=4))) != fingerprint


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return load_dataset("shapes", root=tmp_path_factory.mktemp("shapes"), n_images=10)


@pytest.mark.parametrize("name", KERAS)
def test_the_feature_cache_is_made_once_in_the_encoders_own_folder(name, world, tmp_path,
                                                                   monkeypatch):
    spec, choice = encoder_spec(name), choose_encoder(name, "none")
    cache = extract_features(world, tmp_path, choice, grid=True, batch_size=4, progress=False)
    assert cache.complete and not cache.failed
    assert cache.meta["settings"]["encoder"] == spec.keras_name
    assert cache.meta["settings"]["weights"] == "none"
    assert cache.meta["settings"]["layers"] == [spec.fc2, spec.grid]
    names = cache.available
    assert cache.get(names).shape == (10, spec.fc2_dim)
    assert cache.get(names[:2], layer=spec.grid).shape == (2, *spec.grid_shape)
    made = (tmp_path / "features" / "fc2.npy").stat().st_mtime_ns

    def no_network(*args, **kwargs):
        raise AssertionError("a complete cache must be reused without building the encoder")

    monkeypatch.setattr(features, "build_encoder", no_network)
    assert extract_features(world, tmp_path, choice, progress=False).complete  # fc2 alone too
    assert (tmp_path / "features" / "fc2.npy").stat().st_mtime_ns == made
    with pytest.raises(FeatureCacheError, match=f"(?s){spec.keras_name}.*VGG16.*CAPTION_RUN_DIR"):
        extract_features(world, tmp_path, choose_encoder("vgg16", "none"), progress=False)


@pytest.mark.parametrize(("name", "model"), [("resnet50", "merge"),
                                           ("efficientnetb0", "attention")])
def test_trained_one_epoch_it_captions_from_its_run_folder(name, model, tmp_path, capsys):
    """End to end on a tiny world: features (the grid for the attention model), the model
    trained one epoch, then captions by the run folder alone (the encoder rebuilt from its
    record), from Python and from ``python -m helpers.caption``'s code."""
    spec, attention = encoder_spec(name), model == "attention"
    settings = get_settings(dataset="shapes", data_dir=tmp_path / "data", encoder=name,
                            encoder_weights="none", epochs=1, shapes_images=12,
                            run_dir=tmp_path / "runs" / run_name(name, "none"))
    prepared = prepare(settings, progress=False, grid=attention)
    _, meta = load_or_train(prepared, attention=attention, verbose=0)
    layer = spec.grid if attention else spec.fc2
    assert (meta["encoder"], meta["encoder_weights"], meta["layer"]) == (name, "none", layer)
    assert len(meta["encoder_fingerprint"]) == 16

    test = [n for n in prepared.dataset.splits["test"] if n in prepared.cache.available][:2]
    paths = [str(prepared.dataset.image_path(n)) for n in test]
    captioner = Captioner.load(settings.run_dir, model=model)
    assert captioner.run_dir == model_dir(settings, model=model)
    cached = prepared.cache.get(test, layer=spec.grid if attention else "fc2")
    close(captioner.features(paths), cached, rtol=1e-2)  # made exactly as in training
    expected = captioner.caption(paths)
    assert main([*paths, "--run", str(settings.run_dir), "--model", model, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"image": p, "caption": c} for p, c in zip(paths, expected)]


@pytest.fixture
def weights_server(tmp_path):
    """A local HTTP server standing in for Keras' weights site; it lists the paths asked for."""
    served, asked = tmp_path / "served", []
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}", asked
    httpd.shutdown()


def test_imagenet_weights_are_downloaded_once_and_loaded_as_keras_loads_them(
        weights_server, tmp_path, monkeypatch):
    """A stand-in for efficientnetb0_notop.h5 (random weights, ImageNet's pixel statistics in
    its Normalization layer) is fetched into the cache once, refetched when damaged, and gives
    what Keras' own ``EfficientNetB0(weights="imagenet")`` gives from the same file."""
    import keras

    served, url, asked = weights_server
    spec = encoder_spec("efficientnetb0")
    random.seed(5)
    network = keras.applications.EfficientNetB0(include_top=False, weights=None, pooling="avg",
                                                input_shape=(224, 224, 3))
    norm = next(x for x in network.layers if isinstance(x, keras.layers.Normalization))
    norm.set_weights([np.float32([0.485, 0.456, 0.406]), np.float32([0.229, 0.224, 0.225]),
                      norm.get_weights()[2]])
    published = served / spec.imagenet.file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network.save(published)  # HDF5, as Keras' published weights files
    digest = hashlib.md5(published.read_bytes()).hexdigest()
    monkeypatch.setitem(ENCODERS, spec.name, dataclasses.replace(
        spec, imagenet=dataclasses.replace(spec.imagenet, md5=digest)))
    monkeypatch.setattr(features, "IMAGENET_MIRROR", url)
    monkeypatch.setattr(features, "IMAGENET_CACHE", tmp_path / "keras")
    kept = tmp_path / "keras" / "models" / spec.imagenet.file
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"cut short")  # an interrupted download: fetched again, not trusted

    choice = choose_encoder("efficientnetb0", "imagenet")
    encoder = build_encoder(choice)
    assert asked == [f"/{spec.imagenet.file}"] and kept.read_bytes() == published.read_bytes()
    assert features.imagenet_weights(ENCODERS[spec.name]) == kept
    assert len(asked) == 1  # once
    from_file = build_encoder(choose_encoder("efficientnetb0", str(published)))
    assert encoder_fingerprint(from_file) == encoder_fingerprint(encoder)  # the offline route

    monkeypatch.setattr(keras.src.applications.efficientnet.file_utils, "get_file",
                        lambda *args, **kwargs: str(published))
    keras_own = keras.applications.EfficientNetB0(include_top=False, weights="imagenet",
                                                  pooling="avg", input_shape=(224, 224, 3))
    rgb = np.random.default_rng(1).integers(0, 256, (2, 224, 224, 3)).astype(np.uint8)
    close(encoder.predict(preprocess(rgb), verbose=0),
          keras_own.predict(rgb.astype(np.float32), verbose=0), rtol=1e-3)


@pytest.mark.parametrize("name", ["vgg16", *KERAS])
def test_weights_that_cannot_be_had_say_how_to_work_offline(name, tmp_path, monkeypatch):
    spec = encoder_spec(name)
    monkeypatch.setattr(features, "IMAGENET_MIRROR", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setattr(features, "IMAGENET_CACHE", tmp_path)
    with pytest.raises(EncoderWeightsError) as caught:
        build_encoder(choose_encoder(name, "imagenet"))
    message = str(caught.value)
    for part in (f"{spec.keras_name}'s ImageNet weights", f"about {spec.imagenet.megabytes} MB",
                 str(tmp_path / "models"), spec.imagenet.file, "CAPTION_ENCODER_WEIGHTS=none",
                 "CAPTION_ENCODER_WEIGHTS=/path/to/that/file"):
        assert part in message
    assert not (tmp_path / "models" / spec.imagenet.file).exists()


def test_a_file_of_other_weights_is_named(tmp_path):
    junk = tmp_path / "weights.h5"
    junk.write_bytes(b"not weights")
    with pytest.raises(EncoderWeightsError, match="not an EfficientNetB0 weights file.*_notop.h5"):
        build_encoder(choose_encoder("efficientnetb0", str(junk)))
    with pytest.raises(EncoderWeightsError, match="neither 'imagenet', 'none' nor a file"):
        build_encoder(choose_encoder("resnet50", str(tmp_path / "missing.h5")))
