"""Caption your own images with a trained run (notebook 07), from Python or the command line.

A run folder (``runs/<dataset>/<encoder>/``) holds what notebook 05 saved: the
model (``model.keras``) and ``model.json``, its vocabulary and which encoder
made the features it was trained on (and notebook 08's attention model in
``attention/``). Captioning a new picture repeats exactly what
training saw: read the file (any size; JPEG, PNG, grayscale, RGBA, CMYK),
resize it to 224x224, the encoder's preprocessing, the same encoder cut at
``fc2`` (or at its vector layer: ``avg_pool`` for ``resnet50`` and
``efficientnetb0``), then greedy decoding or beam search::

    from helpers.caption import caption_image
    caption_image("my_photo.jpg")              # 'a dog runs through the grass'
    caption_image(["a.png", "b.jpg"], beam=3)  # one caption per image

From a shell::

    python -m helpers.caption my_photo.jpg other.png [--run runs/shapes/shapes-vgg]
                              [--model merge|attention|transformer] [--beam 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.decoding import beam_search, greedy_decode
from helpers.encoders import choose_encoder, encoder_spec
from helpers.features import EncoderWeightsError, build_encoder
from helpers.images import ImageLoadError, load_image
from helpers.models import is_attention_model
from helpers.runs import (
    MODEL_FILE,
    MODEL_META,
    MODELS,
    encoder_fingerprint,
    load_trained,
    model_dir,
)
from helpers.runtime import native_logs_to_file, repo_root
from helpers.settings import get_settings
from helpers.shapes_vgg import NotPretrainedError, pretrained_card, weights_id
from helpers.text import VocabularyError
from helpers.transformer import is_transformer_model


class CaptionRunError(RuntimeError):
    """A run folder that cannot caption: missing, incomplete, or its encoder cannot be rebuilt."""


_NOT_RUNS = {"blind", "multiscale", *filter(None, MODELS.values())}  # models inside a run


def find_run(run_dir: str | Path | None = None) -> Path:
    """The run folder to caption with.

    ``run_dir`` when given. Otherwise the settings' run folder
    (``CAPTION_RUN_DIR``, or ``runs/<CAPTION_DATASET>/<encoder>/``) when it
    holds a model or when ``CAPTION_RUN_DIR``, ``CAPTION_DATASET`` or
    ``CAPTION_ENCODER`` is set, else the most recently trained run under
    ``runs/`` (after ``make tutorial``: ``runs/shapes/shapes-vgg``).
    """
    if run_dir is not None:
        return Path(run_dir).expanduser().resolve()
    chosen = get_settings().run_dir
    chosen_by_user = {"CAPTION_RUN_DIR", "CAPTION_DATASET", "CAPTION_ENCODER"} & set(os.environ)
    if (chosen / MODEL_FILE).exists() or chosen_by_user:
        return chosen
    runs = repo_root() / "runs"
    trained = [path for path in runs.glob(f"*/*/{MODEL_FILE}")
               if path.parent.name not in _NOT_RUNS]
    trained.sort(key=lambda p: p.stat().st_mtime)
    return trained[-1].parent if trained else chosen


_TRAINED_BY = {"merge": "run notebooks 01 to 05 in order (or `make tutorial`); notebook 05 "
                        "trains and saves it",
               "attention": "run notebook 08 (after 01 to 05, or `make tutorial`); it trains "
                            "and saves the attention model",
               "transformer": "run notebook 09 (after 01 to 05, or `make tutorial`); it trains "
                              "and saves the transformer"}


def _no_model(run_dir: Path, why: str, model: str = "merge") -> CaptionRunError:
    return CaptionRunError(
        f"{run_dir} {why}. Train a model first: {_TRAINED_BY.get(model, _TRAINED_BY['merge'])}. "
        "Or point at another run folder (--run DIR, or run_dir=...).")


def _model_folder(run_dir: Path, model: str) -> Path:
    """The folder of ``model`` in ``run_dir``, or a :class:`CaptionRunError` that says which
    model the run does hold."""
    if model not in MODELS:
        raise CaptionRunError(f"Unknown model {model!r}: choose one of {', '.join(MODELS)} "
                              "(--model, or model=...).")
    if not run_dir.is_dir():
        raise _no_model(run_dir, "does not exist", model)
    folder = model_dir(run_dir, model=model)
    if (folder / MODEL_FILE).exists():
        return folder
    if MODELS[model] and run_dir.name == MODELS[model] and (run_dir / MODEL_FILE).exists():
        return run_dir  # the model's own subfolder, given as the run
    held = [name for name in MODELS if (model_dir(run_dir, model=name) / MODEL_FILE).exists()]
    if held:
        hint = " or ".join(f"--model {name}" for name in held)
        raise CaptionRunError(f"{run_dir} holds no {model} model, but it holds the "
                              f"{' and '.join(held)} model: caption with {hint} "
                              f"(model={held[0]!r} in Python).")
    if model == "merge" and run_dir.name in MODELS.values() and run_dir.name:
        raise CaptionRunError(f"{run_dir} is the {run_dir.name} model's folder but holds no "
                              f"{MODEL_FILE}: train it (notebook 08), then use --run "
                              f"{run_dir.parent} --model {run_dir.name}.")
    raise _no_model(run_dir, f"holds no trained {model} model ({MODEL_FILE})", model)


def _encoder_data(places: list[Path], encoder: str, weights: str) -> Path | None:
    """The first folder that holds the pretrained ``shapes-vgg`` weights ``weights``."""
    for place in places:
        try:
            card = pretrained_card(place, encoder)  # a card without its weights does not count
        except NotPretrainedError:
            continue
        if weights_id(card) == weights:
            return place
    return None


@dataclass
class Captioner:
    """A trained model, its vocabulary and the encoder that matches it, loaded once."""

    run_dir: Path
    model: object
    vocab: object
    encoder: object
    meta: dict
    attention: bool = False  # an attention model or a transformer reads the conv grid, not fc2

    @classmethod
    def load(cls, run_dir: str | Path | None = None, data_dir: str | Path | None = None,
             model: str = "merge") -> Captioner:
        """Load a run folder's model and rebuild its encoder; each problem says what to do.

        ``model``: which of the run's models (:data:`helpers.runs.MODELS`),
        ``"merge"`` (notebook 05), ``"attention"`` (08) or ``"transformer"`` (09). A
        ``shapes-vgg`` encoder is read from the run folder's copy, else from
        ``data_dir`` (default: the settings' data folder). The rebuilt encoder
        must have the fingerprint stored with the model.
        """
        folder = _model_folder(find_run(run_dir), model)
        try:
            network, vocab, meta = load_trained(folder)
        except VocabularyError as err:
            raise CaptionRunError(f"{folder} is incomplete: {err}") from None
        except (OSError, ValueError) as err:
            raise CaptionRunError(f"{folder / MODEL_FILE} cannot be loaded ({err}); train "
                                  "again (notebook 05)") from None
        transformer = is_transformer_model(network)
        attention = transformer or is_attention_model(network)
        notebook = "09" if transformer else "08" if attention else "05"
        try:
            spec = encoder_spec(str(meta["encoder"]))
            weights = str(meta["encoder_weights"])
        except (KeyError, ValueError) as err:
            raise CaptionRunError(f"{folder / MODEL_META} does not name an encoder this version "
                                  f"knows ({err}). Train again (notebook {notebook}) with this "
                                  "version of the series.") from None
        encoder_data = Path(data_dir) if data_dir is not None else get_settings().data_dir
        if not spec.takes_weights:
            found = _encoder_data([folder, folder.parent, encoder_data], spec.name, weights)
            if found is None:
                raise CaptionRunError(
                    f"The model in {folder} was trained on features of {weights}, but neither "
                    f"the run folder nor {encoder_data} holds those weights, so its features "
                    f"cannot be made again. Run notebooks 02 and {notebook} again (they extract "
                    "new features and retrain), or pass the data folder it was made with "
                    "(--data DIR, or data_dir=...).")
            encoder_data = found
        wanted = tuple(spec.grid_shape) if attention else (spec.fc2_dim,)
        given = tuple(int(d) for d in network.inputs[0].shape[1:])
        if given != wanted:
            def numbers(shape):
                return f"{shape[0]} numbers" if len(shape) == 1 else "x".join(map(str, shape))

            raise CaptionRunError(
                f"The model in {folder / MODEL_META} reads {numbers(given)} per image, but its "
                f"encoder {spec.name} gives {numbers(wanted)}: the model and encoder do not "
                f"match. Run notebooks 02 and {notebook} again with the same CAPTION_ENCODER.")
        try:
            choice = choose_encoder(spec.name, weights, data_dir=encoder_data)
            encoder = build_encoder(choice, grid=attention)
        except EncoderWeightsError as err:  # offline, or a weights file of another machine
            raise CaptionRunError(f"The model in {folder} needs {spec.keras_name} with weights "
                                  f"{weights!r}, which cannot be had here:\n{err}") from None
        stored = meta.get("encoder_fingerprint")  # none for ImageNet: Keras checks its hash
        rebuilt = encoder_fingerprint(encoder) if stored is not None else None
        if rebuilt != stored:
            why = (f"A random {spec.keras_name} is made again from its seed, and this version "
                   "of Keras or TensorFlow makes other weights from the same seed. Caption with "
                   "the versions the run was made with (constraints.txt), or"
                   if weights == "none" else "Its weights have changed since training:")
            raise CaptionRunError(
                f"The {spec.name} encoder rebuilt here (weights {weights!r}) is not the one the "
                f"model in {folder} was trained with: its weights' fingerprint is "
                f"{rebuilt}, {MODEL_META} says {stored}. {why} extract the "
                f"features and train again here (notebooks 02 and {notebook}).")
        return cls(folder, network, vocab, encoder, meta, attention)

    def features(self, paths: list[str | Path], batch_size: int = 32) -> np.ndarray:
        """``fc2`` of each image (the conv grid for an attention model), made exactly as in
        training (notebook 02; the grid through float16, as the feature cache keeps it)."""
        parts = []
        for start in range(0, len(paths), batch_size):  # a few at a time: memory stays small
            images = np.stack([load_image(p) for p in paths[start:start + batch_size]])
            outputs = self.encoder(images, training=False)  # load_image names a bad file
            outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
            if self.attention:
                parts.append(np.asarray(outputs[1]).astype(np.float16).astype(np.float32))
            else:
                parts.append(np.asarray(outputs[0]))
        return np.concatenate(parts)

    def caption(self, paths: list[str | Path], beam: int = 1) -> list[str]:
        """One caption per image: greedy decoding (``beam=1``) or beam search of width ``beam``."""
        if beam < 1:
            raise ValueError(f"beam={beam}: use 1 (greedy decoding) or a beam width of 2 or more")
        features = self.features(paths)
        if beam == 1:
            return greedy_decode(self.model, features, self.vocab).captions
        return beam_search(self.model, features, self.vocab, beam_size=beam).captions


_LOADED: dict[tuple, Captioner] = {}


def caption_image(path_or_paths: str | Path | list[str | Path], run_dir: str | Path | None = None,
                  beam: int = 1, data_dir: str | Path | None = None,
                  model: str = "merge") -> str | list[str]:
    """Caption one image (returns a string) or several (returns a list), with a trained run.

    ``model``: which of the run's models, ``"merge"`` (notebook 05),
    ``"attention"`` (notebook 08) or ``"transformer"`` (notebook 09).

    The run folder is loaded once and kept for the next call, until its model
    file changes. Raises :class:`CaptionRunError` for a missing or unusable run
    and :class:`~helpers.images.ImageLoadError` for a file that is not an image.
    """
    single = isinstance(path_or_paths, str | Path)
    paths = [Path(p).expanduser() for p in ([path_or_paths] if single else path_or_paths)]
    if not paths:
        raise ValueError("no images given: pass a path or a list of paths")
    for path in paths:
        if not path.is_file():
            raise ImageLoadError(f"cannot read image {path}: no such file; check the path")
    folder = find_run(run_dir)
    model_file = model_dir(folder, model=model) / MODEL_FILE if model in MODELS else folder
    key = (str(folder), str(data_dir), model,
           model_file.stat().st_mtime if model_file.exists() else 0)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = Captioner.load(folder, data_dir, model=model)
    captions = _LOADED[key].caption(paths, beam=beam)
    return captions[0] if single else captions


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.caption IMAGE... [--run DIR] [--model NAME] [--beam K] [--json]``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.caption",
        description="Caption images with a trained run of the series (notebook 07).")
    parser.add_argument("images", nargs="+", help="image files: JPEG, PNG, any size or mode")
    parser.add_argument("--run", help="run folder (default: the settings' run folder, "
                                      "or the most recently trained run under runs/)")
    parser.add_argument("--model", default="merge", choices=list(MODELS),
                        help="which of the run's models: merge (notebook 05, the default), "
                             "attention (notebook 08) or transformer (notebook 09)")
    parser.add_argument("--data", help="data folder with the pretrained shapes-vgg, for a run "
                                       "folder without its own copy (default: the settings' "
                                       "data folder)")
    parser.add_argument("--beam", type=int, default=1,
                        help="beam width; 1 (the default) is greedy decoding")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead")
    args = parser.parse_args(argv)
    if args.beam < 1:
        parser.error(f"--beam {args.beam}: use 1 (greedy) or a width of 2 or more")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with native_logs_to_file():  # TensorFlow's start-up lines go to a log file
            captioner = Captioner.load(args.run, args.data, model=args.model)
    except (CaptionRunError, ValueError) as err:  # ValueError: a malformed CAPTION_* setting
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"captioning with the model in {captioner.run_dir}", file=sys.stderr)
    results, errors = [], []
    with native_logs_to_file():
        for path in args.images:  # one at a time, so one bad file does not stop the others
            try:
                caption = captioner.caption([path], args.beam)[0]
                results.append({"image": path, "caption": caption})
            except ImageLoadError as err:
                errors.append(f"error: {err}. Give the path of a JPEG or PNG image file.")
    for error in errors:
        print(error, file=sys.stderr)
    failed = len(errors)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for result in results:
            print(result["caption"] if len(args.images) == 1
                  else f"{result['image']}\t{result['caption']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
