"""Caption your own images with a trained run (notebook 07), from Python or the command line.

A run folder (``runs/<dataset>/``) holds what notebook 05 saved: the model
(``model.keras``) and ``model.json``, its vocabulary and which encoder made
the features it was trained on. Captioning a new picture repeats exactly what
training saw: read the file (any size; JPEG, PNG, grayscale, RGBA, CMYK),
resize it to 224x224, VGG16's preprocessing, the same encoder cut at ``fc2``,
then greedy decoding or beam search::

    from helpers.caption import caption_image
    caption_image("my_photo.jpg")              # 'a dog runs through the grass'
    caption_image(["a.png", "b.jpg"], beam=3)  # one caption per image

From a shell::

    python -m helpers.caption my_photo.jpg other.png [--run runs/shapes] [--beam 3] [--json]
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
from helpers.encoders import encoder_spec
from helpers.features import EncoderWeightsError, build_encoder
from helpers.images import ImageLoadError, load_image
from helpers.runs import MODEL_FILE, MODEL_META, load_trained
from helpers.runtime import native_logs_to_file, repo_root
from helpers.settings import get_settings
from helpers.shapes_vgg import load_card, weights_id
from helpers.text import VocabularyError


class CaptionRunError(RuntimeError):
    """A run folder that cannot caption: missing, incomplete, or its encoder cannot be rebuilt."""


def find_run(run_dir: str | Path | None = None) -> Path:
    """The run folder to caption with.

    ``run_dir`` when given. Otherwise the settings' run folder
    (``CAPTION_RUN_DIR``, or ``runs/<CAPTION_DATASET>/``) when it holds a model
    or when either variable is set, else the most recently trained run under
    ``runs/`` (after ``make tutorial``: ``runs/shapes``).
    """
    if run_dir is not None:
        return Path(run_dir).expanduser().resolve()
    chosen = get_settings().run_dir
    if (chosen / MODEL_FILE).exists() or {"CAPTION_RUN_DIR", "CAPTION_DATASET"} & set(os.environ):
        return chosen
    trained = sorted((repo_root() / "runs").glob(f"*/{MODEL_FILE}"),
                     key=lambda p: p.stat().st_mtime)
    return trained[-1].parent if trained else chosen


def _no_model(run_dir: Path, why: str) -> CaptionRunError:
    return CaptionRunError(
        f"{run_dir} {why}. Train a model first: run notebooks 01 to 05 in order (or "
        "`make tutorial`); notebook 05 trains and saves it. Or point at another run "
        "folder (--run DIR, or run_dir=...).")


@dataclass
class Captioner:
    """A trained model, its vocabulary and the encoder that matches it, loaded once."""

    run_dir: Path
    model: object
    vocab: object
    encoder: object
    meta: dict

    @classmethod
    def load(cls, run_dir: str | Path | None = None,
             data_dir: str | Path | None = None) -> Captioner:
        """Load a run folder and rebuild its encoder; each problem gets a message saying what to do.

        ``data_dir`` is where a ``shapes-vgg`` encoder's pretrained weights are
        (default: the settings' data folder).
        """
        run_dir = find_run(run_dir)
        if not run_dir.is_dir():
            raise _no_model(run_dir, "does not exist")
        if not (run_dir / MODEL_FILE).exists():
            raise _no_model(run_dir, f"holds no trained model ({MODEL_FILE})")
        try:
            model, vocab, meta = load_trained(run_dir)
        except VocabularyError as err:
            raise CaptionRunError(f"{run_dir} is incomplete: {err}") from None
        except (OSError, ValueError) as err:
            raise CaptionRunError(f"{run_dir / MODEL_FILE} cannot be loaded ({err}); train "
                                  "again (notebook 05)") from None

        try:
            encoder = encoder_spec(str(meta.get("encoder", "vgg16"))).name
        except ValueError as err:
            raise CaptionRunError(f"{run_dir / MODEL_META}: {err}. Train again (notebook 05) "
                                  "with this version of the series.") from None
        weights = str(meta.get("encoder_weights", "imagenet"))
        data_dir = Path(data_dir) if data_dir is not None else get_settings().data_dir
        if not encoder_spec(encoder).takes_weights:
            card = load_card(data_dir, encoder)
            if card is None or weights_id(card) != weights:
                found = "holds none" if card is None else f"holds another ({weights_id(card)})"
                raise CaptionRunError(
                    f"The model in {run_dir} was trained on features of {weights}, but "
                    f"{data_dir} {found}, so its features cannot be made again. Run notebooks "
                    "02 and 05 again (they extract new features and retrain), or pass the "
                    "data folder it was made with (--data DIR, or data_dir=...).")
        model_dim = int(model.inputs[0].shape[-1])
        encoder_dim = encoder_spec(encoder).fc2_dim
        if model_dim != encoder_dim:
            raise CaptionRunError(
                f"The model in {run_dir / MODEL_META} reads {model_dim} numbers per image, but "
                f"its encoder {encoder} gives {encoder_dim}: the model and encoder do not match. "
                "Run notebooks 02 and 05 again with the same CAPTION_ENCODER.")
        try:
            own_weights = weights if encoder_spec(encoder).takes_weights else "none"
            network = build_encoder(own_weights, encoder=encoder, data_dir=data_dir,
                                    progress=False)
        except EncoderWeightsError as err:  # offline, or a weights file of another machine
            raise CaptionRunError(f"The model in {run_dir} needs VGG16 with weights {weights!r}, "
                                  f"which cannot be had here:\n{err}") from None
        return cls(run_dir, model, vocab, network, meta)

    def features(self, paths: list[str | Path], batch_size: int = 32) -> np.ndarray:
        """``fc2`` of each image, preprocessed exactly as in training (notebook 02)."""
        parts = []
        for start in range(0, len(paths), batch_size):  # a few at a time: memory stays small
            images = np.stack([load_image(p) for p in paths[start:start + batch_size]])
            parts.append(np.asarray(self.encoder(images, training=False)))  # names a bad file
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
                  beam: int = 1, data_dir: str | Path | None = None) -> str | list[str]:
    """Caption one image (returns a string) or several (returns a list), with a trained run.

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
    model_file = folder / MODEL_FILE
    key = (str(folder), str(data_dir), model_file.stat().st_mtime if model_file.exists() else 0)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = Captioner.load(folder, data_dir)
    captions = _LOADED[key].caption(paths, beam=beam)
    return captions[0] if single else captions


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.caption IMAGE... [--run DIR] [--beam K] [--json]``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.caption",
        description="Caption images with a trained run of the series (notebook 07).")
    parser.add_argument("images", nargs="+", help="image files: JPEG, PNG, any size or mode")
    parser.add_argument("--run", help="run folder (default: the settings' run folder, "
                                      "or the most recently trained run under runs/)")
    parser.add_argument("--data", help="data folder with the pretrained shapes-vgg "
                                       "(default: the settings' data folder)")
    parser.add_argument("--beam", type=int, default=1,
                        help="beam width; 1 (the default) is greedy decoding")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead")
    args = parser.parse_args(argv)
    if args.beam < 1:
        parser.error(f"--beam {args.beam}: use 1 (greedy) or a width of 2 or more")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with native_logs_to_file():  # TensorFlow's start-up lines go to a log file
            captioner = Captioner.load(args.run, args.data)
    except CaptionRunError as err:
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
