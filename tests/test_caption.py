"""Captioning your own images (notebook 07): `caption_image` and `python -m helpers.caption`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.caption import Captioner, CaptionRunError, caption_image, main
from helpers.data import load_dataset
from helpers.decoding import greedy_decode
from helpers.encoders import encoder_spec
from helpers.features import extract_features
from helpers.images import ImageLoadError
from helpers.models import build_attention_model, build_caption_model
from helpers.pretraining import pretrain
from helpers.runs import MODEL_META, model_dir, run_info, save_encoder_with, save_trained
from helpers.settings import get_settings
from helpers.shapes import Scene, Thing, draw_scene
from helpers.shapes_vgg import WEIGHTS_FILE
from helpers.text import Vocabulary
from helpers.transformer import build_transformer_model
from tests.fixtures import sample_captions, write_official

ROOT = Path(__file__).resolve().parents[1]


def save_run(run_dir: Path, vocab: Vocabulary, feature_dim: int | None = None, **info) -> Path:
    """A run folder as notebook 05 leaves it (an untrained model: captioning needs no skill)."""
    settings = get_settings()
    dim = feature_dim or encoder_spec(settings.encoder).fc2_dim
    model = build_caption_model(len(vocab), feature_dim=dim, units=16, embedding_dim=8, seed=0)
    save_trained(model, vocab, run_dir, **{**run_info(settings), "epoch": 1, "val_loss": 1.0,
                                           **info})
    return run_dir


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A small dataset in the Flickr8k layout, its features from the run's encoder, a run."""
    settings = get_settings()
    names = sorted(sample_captions(6))
    root = write_official(tmp_path_factory.mktemp("photos"), sample_captions(6),
                          {"train": names[:4], "val": names[4:5], "test": names[5:]})
    for k, name in enumerate(names):  # pictures that differ
        thing = Thing(["circle", "star", "square"][k % 3], ["red", "blue"][k % 2], "large",
                      60 + 20 * k, 100)
        draw_scene(Scene(["white", "black"][k % 2], (thing,), "single")).save(
            root / "Flicker8k_Dataset" / name, quality=92)
    dataset = load_dataset("flickr8k", root=root)
    work = tmp_path_factory.mktemp("work")
    pretrain(settings.data_dir, settings.encoder, progress=False)  # notebook 02 does this first
    cache = extract_features(dataset, work / "features_run", settings.encoder_choice,
                             progress=False)
    vocab = Vocabulary.fit([c for cs in dataset.captions.values() for c in cs], min_count=1)
    run_dir = save_run(work / "run", vocab)
    return dataset, cache, vocab, run_dir


def test_a_caption_is_made_exactly_as_in_training(photos):
    """The features of a new image equal the cached training features of the same file,
    so its caption is the one greedy decoding gives the training pipeline."""
    dataset, cache, vocab, run_dir = photos
    names = cache.available[:4]
    paths = [dataset.image_path(n) for n in names]
    captioner = Captioner.load(run_dir)
    np.testing.assert_allclose(captioner.features(paths), cache.get(names), rtol=1e-3, atol=1e-3)
    expected = greedy_decode(captioner.model, cache.get(names), vocab).captions
    assert caption_image(paths, run_dir) == expected
    assert caption_image(paths[0], run_dir) == expected[0]  # one path: one string
    beam = caption_image(paths, run_dir, beam=3)
    assert len(beam) == 4 and all(isinstance(c, str) for c in beam)  # untrained: may be ""


def test_every_kind_of_image_file_is_captioned(photos, tmp_path):
    dataset, cache, vocab, run_dir = photos
    picture = Image.open(dataset.image_path(cache.available[0])).convert("RGB")
    files = {"png": tmp_path / "p.png", "gray": tmp_path / "g.jpg", "rgba": tmp_path / "a.png",
             "cmyk": tmp_path / "c.jpg", "big": tmp_path / "big.jpg",
             "no suffix": tmp_path / "picture"}
    picture.save(files["png"])
    picture.convert("L").save(files["gray"])
    picture.convert("RGBA").save(files["rgba"])  # opaque: the same pixels as the PNG
    picture.convert("CMYK").save(files["cmyk"])
    picture.resize((1024, 640)).save(files["big"])
    picture.save(files["no suffix"], format="PNG")
    captions = dict(zip(files, caption_image(list(files.values()), run_dir)))
    assert all(isinstance(c, str) and "<" not in c for c in captions.values())
    assert set(" ".join(captions.values()).split()) <= set(vocab.words)
    features = dict(zip(files, Captioner.load(run_dir).features(list(files.values()))))
    for same in ("rgba", "no suffix"):  # the same pixels, whatever the file says
        np.testing.assert_allclose(features[same], features["png"], rtol=1e-5, atol=1e-5)
    assert not np.allclose(features["gray"], features["png"], atol=1e-2)  # colour is gone


def test_bad_images_and_missing_runs_say_what_to_do(photos, tmp_path):
    _, _, vocab, run_dir = photos
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    with pytest.raises(ImageLoadError, match="notes.jpg"):
        caption_image(text, run_dir)
    with pytest.raises(ImageLoadError, match="missing.png: no such file"):
        caption_image(tmp_path / "missing.png", run_dir)
    with pytest.raises(CaptionRunError, match="(?s)does not exist.*notebooks 01 to 05"):
        Captioner.load(tmp_path / "no_run")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(CaptionRunError, match="holds no trained merge model.*notebook 05"):
        Captioner.load(tmp_path / "empty_run")
    incomplete = save_run(tmp_path / "incomplete", vocab)
    (incomplete / MODEL_META).unlink()
    with pytest.raises(CaptionRunError, match="is incomplete.*notebook 05"):
        Captioner.load(incomplete)


def test_a_model_and_an_encoder_that_do_not_match_are_refused(photos, tmp_path):
    _, _, vocab, _ = photos
    other = save_run(tmp_path / "other_pretraining", vocab,
                     encoder_weights="shapes-vgg-small {} made 2020-01-01 00:00")
    with pytest.raises(CaptionRunError, match="(?s)cannot be made again.*notebooks 02 and 05"):
        Captioner.load(other)
    narrow = save_run(tmp_path / "narrow", vocab, feature_dim=12)
    with pytest.raises(CaptionRunError, match="reads 12 numbers per image.*do not match"):
        Captioner.load(narrow)


def test_the_command_prints_one_caption_per_image(photos, tmp_path, capsys):
    dataset, cache, _, run_dir = photos
    paths = [str(dataset.image_path(n)) for n in cache.available[:2]]
    expected = caption_image(paths, run_dir)

    assert main([paths[0], "--run", str(run_dir)]) == 0
    assert capsys.readouterr().out.splitlines() == [expected[0]]
    assert main([*paths, "--run", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"image": p, "caption": c} for p, c in zip(paths, expected)]

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    assert main([paths[0], str(broken), "--run", str(run_dir)]) == 1  # the others still done
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{paths[0]}\t{expected[0]}"]
    assert "broken.png" in err and "JPEG or PNG" in err

    assert main([paths[0], "--run", str(tmp_path / "nothing")]) == 2
    assert "run notebooks 01 to 05" in capsys.readouterr().err


def test_python_dash_m_with_no_run_says_which_notebook_to_run(photos, tmp_path):
    dataset, cache, _, _ = photos
    env = {**os.environ, "CAPTION_RUN_DIR": str(tmp_path / "no_run_yet")}
    done = subprocess.run([sys.executable, "-m", "helpers.caption",
                           str(dataset.image_path(cache.available[0]))],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "no_run_yet does not exist" in done.stderr and "notebook 05" in done.stderr


def test_captioning_imports_no_training_code():
    """Inference loads a model and its encoder: it needs no training or pretraining code, so
    a change to training cannot break captioning (a fresh process: nothing imported before)."""
    listing = ("import sys, helpers.caption; "
               "print(*sorted(m for m in sys.modules if m.startswith('helpers')))")
    done = subprocess.run([sys.executable, "-c", listing], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)
    loaded = set(done.stdout.split())
    assert {"helpers.caption", "helpers.shapes_vgg", "helpers.features"} <= loaded
    training = {"helpers.training", "helpers.pretraining", "helpers.shapes_scenes",
                "helpers.pipeline", "helpers.classic"}
    assert not loaded & training, f"captioning imports {sorted(loaded & training)}"


def test_a_model_whose_encoder_cannot_be_rebuilt_says_so(photos, tmp_path):
    _, _, vocab, _ = photos
    elsewhere = save_run(tmp_path / "elsewhere", vocab, feature_dim=4096, encoder="vgg16",
                         encoder_weights="/home/someone/vgg16_weights.h5")
    with pytest.raises(CaptionRunError, match="(?s)needs VGG16 with weights.*neither"):
        Captioner.load(elsewhere)
    unknown = save_run(tmp_path / "unknown", vocab, encoder="resnet18")
    with pytest.raises(CaptionRunError, match="(?s)resnet18.*notebook 05"):
        Captioner.load(unknown)


def test_without_settings_the_newest_trained_run_is_used(tmp_path, monkeypatch):
    from helpers.caption import find_run

    for variable in ("CAPTION_RUN_DIR", "CAPTION_DATASET"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CAPTION_ROOT", str(tmp_path))
    monkeypatch.delenv("CAPTION_ENCODER", raising=False)
    assert find_run() == tmp_path / "runs" / "flickr8k" / "vgg16"  # nothing trained: settings'
    for age, name in ((300, "shapes/shapes-vgg"), (200, "flickr8k/vgg16-random"),
                      (100, "flickr8k/vgg16-random/attention"), (50, "shapes/blind")):
        model = tmp_path / "runs" / name / "model.keras"
        model.parent.mkdir(parents=True)
        model.write_text("")
        os.utime(model, (model.stat().st_mtime - age,) * 2)
    # the newest run folder; a model kept inside a run (attention/, blind/) is not a run
    assert find_run() == tmp_path / "runs" / "flickr8k" / "vgg16-random"
    assert find_run(tmp_path / "runs" / "shapes") == tmp_path / "runs" / "shapes"
    monkeypatch.setenv("CAPTION_DATASET", "shapes")
    assert find_run() == tmp_path / "runs" / "shapes" / "shapes-vgg"  # the settings say which


@pytest.fixture(scope="module")
def attention_run(photos, tmp_path_factory):
    """A run folder holding an (untrained) attention model in attention/, as notebook 08 leaves
    it, and the grid features of the photos."""
    dataset, _, vocab, _ = photos
    settings = get_settings()
    work = tmp_path_factory.mktemp("attention")
    cache = extract_features(dataset, work / "grid_features", settings.encoder_choice, grid=True,
                             progress=False)
    model = build_attention_model(len(vocab), grid_shape=encoder_spec(settings.encoder).grid_shape,
                                  units=16, embedding_dim=8, attention_dim=8, seed=0)
    run_dir = work / "run"
    save_trained(model, vocab, model_dir(run_dir, attention=True),
                 **{**run_info(settings, attention=True), "epoch": 1, "val_loss": 1.0})
    return cache, run_dir


def test_the_attention_model_captions_by_name_or_by_its_folder(photos, attention_run, capsys):
    """Bug 2: --run <run>/attention said to re-run notebooks 02 and 05 with the same encoder."""
    dataset, _, vocab, _ = photos
    cache, run_dir = attention_run
    grid = encoder_spec(get_settings().encoder).grid
    names = cache.available[:3]
    paths = [dataset.image_path(n) for n in names]
    captioner = Captioner.load(run_dir, model="attention")
    np.testing.assert_allclose(captioner.features(paths), cache.get(names, grid),
                               rtol=1e-2, atol=1e-2)
    expected = greedy_decode(captioner.model, cache.get(names, grid), vocab).captions
    assert caption_image(paths, run_dir, model="attention") == expected
    assert main([str(paths[0]), "--run", str(run_dir), "--model", "attention"]) == 0
    assert capsys.readouterr().out.splitlines() == [expected[0]]
    assert main([str(paths[0]), "--run", str(run_dir / "attention")]) == 0  # its own folder
    assert capsys.readouterr().out.splitlines() == [expected[0]]
    # the merge model is the default; a run with only the attention model says what to pass
    with pytest.raises(CaptionRunError, match="holds no merge model.*--model attention"):
        Captioner.load(run_dir)
    with pytest.raises(CaptionRunError, match="Unknown model 'gru'.*merge, attention, transf"):
        Captioner.load(run_dir, model="gru")
    with pytest.raises(CaptionRunError, match="holds no transformer model.*--model attention"):
        Captioner.load(run_dir, model="transformer")


def test_the_transformer_captions_by_name(photos, attention_run, capsys):
    """python -m helpers.caption --model transformer, as for merge and attention (issue 22)."""
    dataset, _, vocab, _ = photos
    cache, _ = attention_run
    settings = get_settings()
    spec = encoder_spec(settings.encoder)
    model = build_transformer_model(len(vocab), grid_shape=spec.grid_shape,
                                    max_length=vocab.max_length, dim=16, heads=2, ff_dim=16,
                                    blocks=1, seed=0)
    run_dir = cache.folder.parent / "transformer_run"
    save_trained(model, vocab, model_dir(run_dir, model="transformer"),
                 **{**run_info(settings, model="transformer"), "epoch": 1, "val_loss": 1.0})
    names = cache.available[:2]
    paths = [dataset.image_path(n) for n in names]
    expected = greedy_decode(model, cache.get(names, spec.grid), vocab).captions
    assert caption_image(paths, run_dir, model="transformer") == expected
    assert main([str(paths[0]), "--run", str(run_dir), "--model", "transformer"]) == 0
    assert capsys.readouterr().out.splitlines() == [expected[0]]


def test_a_run_folder_captions_without_its_data_folder(photos, tmp_path):
    """A shapes-vgg run carries its encoder: captioning needed --data for its weights."""
    dataset, cache, vocab, _ = photos
    settings = get_settings()
    run_dir = save_run(tmp_path / "run", vocab)
    copy = save_encoder_with(run_dir, settings)
    assert copy is not None and copy.is_relative_to(run_dir)
    assert save_encoder_with(run_dir, settings) == copy  # up to date: left as it is
    path = dataset.image_path(cache.available[0])
    elsewhere = tmp_path / "another data folder"
    assert caption_image(path, run_dir, data_dir=elsewhere) == caption_image(path, run_dir)
    assert not elsewhere.exists()  # nothing pretrained there
    assert save_encoder_with(run_dir, get_settings(encoder="vgg16")) is None  # Keras' own
    (copy / WEIGHTS_FILE).unlink()  # a card without its weights: nothing is pretrained here
    with pytest.raises(CaptionRunError, match="neither the run folder nor .* holds those weights"):
        Captioner.load(run_dir, data_dir=elsewhere)
    assert not (copy / WEIGHTS_FILE).exists()


def test_an_encoder_rebuilt_with_other_weights_is_refused(photos, tmp_path):
    """Bug 4: a random VGG16 rebuilt from its seed by another Keras was not noticed."""
    _, _, vocab, _ = photos
    info = run_info(get_settings())
    assert len(info["encoder_fingerprint"]) == 16
    changed = save_run(tmp_path / "changed", vocab, encoder_fingerprint="0" * 16)
    with pytest.raises(CaptionRunError, match="(?s)not the one.*fingerprint.*0000000000000000"):
        Captioner.load(changed)
    other_version = save_run(tmp_path / "random", vocab, feature_dim=4096, encoder="vgg16",
                             encoder_weights="none", encoder_fingerprint="0" * 16)
    with pytest.raises(CaptionRunError, match="(?s)random VGG16.*seed.*constraints.txt"):
        Captioner.load(other_version)
