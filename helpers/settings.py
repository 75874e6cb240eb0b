"""Settings of the series, read in one place (taught in notebook 01).

Every notebook starts with a *parameters* cell that calls :func:`get_settings`
and shows the result, so a learner sees what can change and how. Settings come
from environment variables, which makes them easy to change for a whole run
(``CAPTION_DATASET=shapes make tutorial``) and invisible to the code that uses
them.

| setting          | env variable              | default                              |
| ---------------- | ------------------------- | ------------------------------------ |
| dataset          | ``CAPTION_DATASET``       | ``flickr8k``                         |
| data folder      | ``CAPTION_DATA_DIR``      | ``<repo>/data``                      |
| run folder       | ``CAPTION_RUN_DIR``       | ``<repo>/runs/<dataset>``            |
| encoder          | ``CAPTION_ENCODER``       | ``vgg16`` (``shapes-vgg`` for shapes) |
| encoder weights  | ``CAPTION_ENCODER_WEIGHTS`` | ``imagenet`` (VGG16's; ``none``: random) |
| epochs           | ``CAPTION_EPOCHS``        | ``20``                               |
| model seed       | ``CAPTION_SEED``          | ``0`` (initial weights, dropout, shuffling) |
| shapes images    | ``CAPTION_SHAPES_IMAGES`` | ``1000`` (size of the shapes world)  |
| quick            | ``CAPTION_QUICK``         | off (``1``: shorter demonstrations) |

Code that needs a setting takes a :class:`Settings` and never reads the
environment again: ``load_dataset(settings)`` loads exactly the world that
``settings`` describes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from helpers.encoders import encoder_spec
from helpers.runtime import repo_root

DATASETS = ("flickr8k", "shapes", "flickr30k", "coco")
"""Names :func:`helpers.data.load_dataset` knows."""


def _whole_number(name: str, raw: str, least: int = 1) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number; set it like {name}=20") from None
    if value < least:
        raise ValueError(f"{name}={raw!r} must be at least {least}")
    return value


def _pick(overrides: dict, key: str, variable: str, default: object) -> str:
    """A keyword argument if given (``0`` counts), else the environment, else the default."""
    value = overrides.get(key)
    if value is None or value == "":
        value = os.environ.get(variable) or default
    return str(value)


@dataclass(frozen=True)
class Settings:
    """What a run of the series uses; see the module docstring for the variables."""

    dataset: str
    data_dir: Path
    run_dir: Path
    encoder_weights: str
    epochs: int
    shapes_images: int = 1000
    seed: int = 0
    encoder: str = "vgg16"
    quick: bool = False  # shorter demonstrations, for make test: notebooks 02 and 08 say what

    @property
    def dataset_dir(self) -> Path:
        """Folder that holds the chosen dataset's files: ``<data dir>/<dataset>``."""
        return self.data_dir / self.dataset

    def as_table(self) -> str:
        """The settings as aligned ``name  value`` lines, for a notebook's parameters cell."""
        rows = {
            "dataset": self.dataset,
            "data folder": self.dataset_dir,
            "run folder": self.run_dir,
            "encoder": self.encoder,
        }
        if self.encoder == "vgg16":  # shapes-vgg has its own weights (notebook 02)
            rows["encoder weights"] = self.encoder_weights
        rows |= {"epochs": self.epochs, "model seed": self.seed}
        if self.dataset == "shapes":
            rows["shapes images"] = self.shapes_images
        if self.quick:
            rows["quick"] = "yes (CAPTION_QUICK): shorter demonstrations"
        width = max(map(len, rows))
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows.items())


def get_settings(**overrides: object) -> Settings:
    """Read the settings from the environment; keyword arguments win over both.

    >>> get_settings(dataset="shapes").encoder
    'shapes-vgg'
    """
    unknown = set(overrides) - {f.name for f in fields(Settings)}
    if unknown:
        raise TypeError(f"get_settings() got unknown settings: {', '.join(sorted(unknown))}")
    dataset = _pick(overrides, "dataset", "CAPTION_DATASET", "flickr8k").lower()
    if dataset not in DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r} (from CAPTION_DATASET or the dataset argument); "
            f"choose one of {', '.join(DATASETS)}."
        )
    root = repo_root()
    data_dir = Path(_pick(overrides, "data_dir", "CAPTION_DATA_DIR", root / "data"))
    run_dir = Path(_pick(overrides, "run_dir", "CAPTION_RUN_DIR", root / "runs" / dataset))
    encoder = encoder_spec(_pick(overrides, "encoder", "CAPTION_ENCODER",
                                  "shapes-vgg" if dataset == "shapes" else "vgg16").lower()).name
    weights = _pick(overrides, "encoder_weights", "CAPTION_ENCODER_WEIGHTS", "imagenet")
    epochs = _whole_number("CAPTION_EPOCHS", _pick(overrides, "epochs", "CAPTION_EPOCHS", 20))
    shapes_images = _whole_number(
        "CAPTION_SHAPES_IMAGES", _pick(overrides, "shapes_images", "CAPTION_SHAPES_IMAGES", 1000)
    )
    seed = _whole_number("CAPTION_SEED", _pick(overrides, "seed", "CAPTION_SEED", 0), least=0)
    quick = _pick(overrides, "quick", "CAPTION_QUICK", "0").lower()
    if quick not in ("0", "1", "false", "true", "no", "yes"):
        raise ValueError(f"CAPTION_QUICK={quick!r}: set it to 1 (quick) or 0")
    return Settings(
        dataset=dataset,
        data_dir=data_dir.expanduser().resolve(),
        run_dir=run_dir.expanduser().resolve(),
        encoder_weights=weights,
        epochs=epochs,
        shapes_images=shapes_images,
        seed=seed,
        encoder=encoder,
        quick=quick in ("1", "true", "yes"),
    )
