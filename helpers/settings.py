"""Settings of the series, read in one place (taught in notebook 01).

Every notebook starts with a *parameters* cell that reads the settings and
shows them, so a learner sees what can change and how. A setting comes from the
first of these that gives it:

1. an environment variable (``CAPTION_DATASET=shapes make tutorial``): a whole
   run at once, and what ``make test`` uses, so nothing else can change a test;
2. the notebook's Parameters cell (``DATASET = "shapes"``): this notebook only;
3. the learner's settings file, ``my-settings.ini`` at the repository's top
   (:func:`settings_file`), written by ``python -m helpers.config dataset=shapes``
   or :func:`helpers.config.save_settings`: the whole series, chosen once;
4. the defaults in the table below.

``make test`` and ``make tutorial`` set ``CAPTION_SETTINGS_FILE=none``, so a
learner's settings file never changes them. Code that calls
:func:`get_settings` with keyword arguments (the tests, ``helpers`` itself)
gets exactly what it asks for: those arguments win over everything.

| setting          | env variable              | default                              |
| ---------------- | ------------------------- | ------------------------------------ |
| dataset          | ``CAPTION_DATASET``       | ``flickr8k``                         |
| data folder      | ``CAPTION_DATA_DIR``      | ``<repo>/data``                      |
| run folder       | ``CAPTION_RUN_DIR``       | ``<repo>/runs/<dataset>/<encoder>``  |
| encoder          | ``CAPTION_ENCODER``       | ``vgg16`` (``shapes-vgg`` for shapes) |
| encoder weights  | ``CAPTION_ENCODER_WEIGHTS`` | ``imagenet`` (``none``: random; or a file) |
| epochs           | ``CAPTION_EPOCHS``        | ``20``                               |
| model seed       | ``CAPTION_SEED``          | ``0`` (initial weights, dropout, shuffling) |
| shapes images    | ``CAPTION_SHAPES_IMAGES`` | ``1000`` (size of the shapes world)  |
| strategy         | ``CAPTION_STRATEGY``      | ``none``: one device (or ``mirrored``...) |
| precision        | ``CAPTION_PRECISION``     | ``float32`` (``mixed``: 16-bit maths) |

The encoders are ``vgg16``, ``resnet50`` (Keras' ResNet50V2), ``efficientnetb0``
and ``shapes-vgg``; the table in :mod:`helpers.encoders` gives their layers.
Encoder weights apply to the first three (``shapes-vgg`` has its own).
Strategy and precision matter beyond Flickr8k, on several GPUs or a TPU
(:mod:`helpers.distribute`, docs/scaling.md); the series runs without them.

The default run folder is one per dataset *and* encoder (see :func:`run_name`),
so switching encoders, or their weights, and back costs nothing: each keeps
its own feature cache and models. A ``CAPTION_RUN_DIR`` you set is used as given.

Code that needs a setting takes a :class:`Settings` and never reads the
environment again: ``load_dataset(settings)`` loads exactly the world that
``settings`` describes. A setting is checked when it is read, so a malformed
``CAPTION_EPOCHS`` stops training, not data loading.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, fields
from pathlib import Path

from helpers.distribute import check_precision, check_strategy
from helpers.encoders import EncoderChoice, choose_encoder, encoder_spec
from helpers.runtime import repo_root

DATASETS = ("flickr8k", "shapes", "flickr30k", "coco")
"""Names :func:`helpers.data.load_dataset` knows."""

SHAPES_INSTEAD = ('the offline shapes world: DATASET = "shapes" in a notebook\'s Parameters cell, '
                  "notebook 00's 'Choose your dataset once' or `python -m helpers.config "
                  "dataset=shapes` for the whole series, or "
                  "CAPTION_DATASET=shapes before a shell command")
"""How to switch to the shapes world, for messages about a dataset that cannot be had."""

QUICK_VARIABLE = "CAPTION_QUICK"
"""Set to ``1`` by the tests (``conftest.py``): shorter demonstrations, see :func:`quick_demo`."""


VARIABLES = {"dataset": "CAPTION_DATASET", "data_dir": "CAPTION_DATA_DIR",
             "run_dir": "CAPTION_RUN_DIR", "encoder": "CAPTION_ENCODER",
             "encoder_weights": "CAPTION_ENCODER_WEIGHTS", "epochs": "CAPTION_EPOCHS",
             "seed": "CAPTION_SEED", "shapes_images": "CAPTION_SHAPES_IMAGES",
             "strategy": "CAPTION_STRATEGY", "precision": "CAPTION_PRECISION"}
"""Each setting and the environment variable that sets it for a whole run."""

SETTINGS_FILE_VARIABLE = "CAPTION_SETTINGS_FILE"
SETTINGS_FILE_NAME = "my-settings.ini"
SETTINGS_SECTION = "settings"


def settings_file() -> Path | None:
    """The learner's settings file: ``<repo>/my-settings.ini``, or ``CAPTION_SETTINGS_FILE``.

    ``CAPTION_SETTINGS_FILE=none`` (as ``make test`` and ``make tutorial`` set it)
    means no file at all.
    """
    raw = os.environ.get(SETTINGS_FILE_VARIABLE)
    if raw is None:
        return repo_root() / SETTINGS_FILE_NAME
    if raw.strip().lower() in ("", "none", "off"):
        return None
    return Path(raw).expanduser()


def read_settings_file(path: Path | None = None) -> dict[str, str]:
    """The settings the learner's file holds (none when there is no file).

    A file that cannot be read, or names a setting that does not exist, stops
    with its path and what to do: a typo there must not silently be ignored.
    """
    path = settings_file() if path is None else path
    if path is None or not path.is_file():
        return {}
    parser = configparser.ConfigParser()
    fix = "fix it, or start again with `python -m helpers.config --reset`"
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as err:
        raise ValueError(f"{path} is not a settings file ({err}); {fix}") from None
    if not parser.has_section(SETTINGS_SECTION):
        raise ValueError(f"{path} has no [{SETTINGS_SECTION}] section; {fix}")
    values = {k: v.strip() for k, v in parser[SETTINGS_SECTION].items() if v.strip()}
    unknown = sorted(set(values) - set(VARIABLES))
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}; the settings are "
                         f"{', '.join(VARIABLES)}; {fix}")
    return values


class _Invalid:
    """A setting whose variable is malformed: the error is raised when the setting is read."""

    def __init__(self, error: ValueError):
        self.error = error

    def __repr__(self) -> str:
        return f"<invalid: {self.error}>"


def _whole_number(name: str, raw: str, least: int = 1, origin: str = "") -> int:
    where = f" (from the {origin})" if origin else ""
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}{where} is not a whole number; set it like {name}=20"
                         ) from None
    if value < least:
        raise ValueError(f"{name}={raw!r}{where} must be at least {least}")
    return value


class _Sources:
    """Where each setting comes from, strongest first (see the module docstring)."""

    def __init__(self, overrides: dict, parameters: dict, file: dict):
        self.layers = [("argument", overrides), ("environment", None),
                       ("Parameters cell", parameters), ("settings file", file)]
        self.origin: dict[str, str] = {}

    def get(self, key: str, default: object) -> str:
        """The first value given for ``key`` (``0`` counts), else ``default``."""
        for name, values in self.layers:
            value = os.environ.get(VARIABLES[key]) if values is None else values.get(key)
            if value is not None and value != "":
                self.origin[key] = name if values is not None else VARIABLES[key]
                return str(value)
        self.origin[key] = "default"
        return str(default)


def _checked(read, *args):
    """``read(*args)``, or an :class:`_Invalid` that raises the error when the setting is used."""
    try:
        return read(*args)
    except ValueError as err:
        return _Invalid(err)


def run_name(encoder: str, weights: str = "imagenet") -> str:
    """The default run folder's last part for an encoder and its weights.

    ``shapes-vgg`` -> ``shapes-vgg``; VGG16 with ImageNet weights -> ``vgg16``,
    random (``none``) -> ``vgg16-random``, a weights file -> ``vgg16-<file stem>``;
    the same for ``resnet50`` and ``efficientnetb0``.

    >>> run_name("vgg16", "none"), run_name("vgg16", "/data/my_vgg.h5")
    ('vgg16-random', 'vgg16-my_vgg')
    >>> run_name("resnet50"), run_name("efficientnetb0", "none")
    ('resnet50', 'efficientnetb0-random')
    """
    spec = encoder_spec(encoder)
    if not spec.takes_weights or weights == "imagenet":
        return spec.name
    if weights == "none":
        return f"{spec.name}-random"
    return f"{spec.name}-{Path(str(weights)).stem}"


@dataclass(frozen=True)
class Settings:
    """What a run of the series uses; see the module docstring for the variables.

    ``run_dir`` holds the run's artifacts: the feature cache (``features/``),
    ``vocab.json``, the merge model (``model.keras``, ``model.json``,
    ``history.csv``), the attention model in ``attention/``, ``metrics.json``,
    ``captions_<split>.json``, ``figures/`` and a copy of a pretrained
    ``shapes-vgg`` encoder (``encoders/``). By default it is
    ``<repo>/runs/<dataset>/<encoder>`` (:func:`run_name`), one per encoder and
    weights; ``make tutorial`` puts its executed notebooks in its ``notebooks/``.
    """

    dataset: str
    data_dir: Path
    run_dir: Path
    encoder_weights: str
    epochs: int
    shapes_images: int = 1000
    seed: int = 0
    encoder: str = "vgg16"
    strategy: str = "none"
    precision: str = "float32"

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if isinstance(value, _Invalid):  # checked when used, so other settings still work
            raise value.error
        return value

    @property
    def encoder_choice(self) -> EncoderChoice:
        """The run's encoder as one value: name, weights, where shapes-vgg is kept (notebook 02).

        A random network (weights ``none``) always starts from seed 0, not the
        model seed: the features, and so the cache, do not change with it.
        """
        return choose_encoder(self.encoder, self.encoder_weights, self.data_dir)

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
        if encoder_spec(self.encoder).takes_weights:  # shapes-vgg has its own (notebook 02)
            rows["encoder weights"] = self.encoder_weights
        rows |= {"epochs": self.epochs, "model seed": self.seed}
        if self.dataset == "shapes":
            rows["shapes images"] = self.shapes_images
        if self.strategy != "none":  # beyond one device (docs/scaling.md): shown when chosen
            rows["strategy"] = self.strategy
        if self.precision != "float32":
            rows["precision"] = self.precision
        width = max(map(len, rows))
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows.items())


def get_settings(**overrides: object) -> Settings:
    """Read the settings; keyword arguments win over the environment, which wins over the rest.

    The dataset is checked at once; every other setting when it is read, so
    ``load_dataset`` works whatever ``CAPTION_EPOCHS`` says.

    >>> get_settings(dataset="shapes").encoder
    'shapes-vgg'
    """
    return _resolve(_Sources(overrides, {}, read_settings_file()))


def notebook_settings(**parameters: object) -> Settings:
    """The settings for a notebook's Parameters cell: the environment, then ``parameters``
    (the cell's values; ``None`` means not set), then the settings file, then the defaults.

    Every notebook's Parameters cell calls it, so ``make test``'s environment
    always wins, and a learner's settings file applies to every notebook.
    """
    return _resolve(_Sources({}, parameters, read_settings_file()))


def setting_origins(**parameters: object) -> dict[str, str]:
    """Where each setting of :func:`notebook_settings` comes from (``python -m helpers.config``)."""
    sources = _Sources({}, parameters, read_settings_file())
    _resolve(sources)
    return sources.origin


def _resolve(sources: _Sources) -> Settings:
    given = {k for _, layer in sources.layers if layer for k in layer}
    unknown = given - {f.name for f in fields(Settings)}
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    dataset = sources.get("dataset", "flickr8k").lower()
    if dataset not in DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r} (from the {sources.origin['dataset']}); "
            f"choose one of {', '.join(DATASETS)}."
        )
    root = repo_root()
    data_dir = Path(sources.get("data_dir", root / "data"))
    encoder = _checked(lambda name: encoder_spec(name.lower()).name, sources.get(
        "encoder", "shapes-vgg" if dataset == "shapes" else "vgg16"))
    weights = sources.get("encoder_weights", "imagenet")
    chosen_run = sources.get("run_dir", "")
    if chosen_run:
        run_dir = Path(chosen_run).expanduser().resolve()
    elif isinstance(encoder, _Invalid):
        run_dir = encoder  # the default run folder is named after the encoder
    else:
        run_dir = (root / "runs" / dataset / run_name(encoder, weights)).resolve()

    def number(key: str, variable: str, default: int, least: int = 1):
        raw = sources.get(key, default)
        origin = sources.origin[key]
        if origin in (variable, "default"):
            return _checked(_whole_number, variable, raw, least)
        return _checked(_whole_number, key, raw, least, origin)

    return Settings(
        dataset=dataset,
        data_dir=data_dir.expanduser().resolve(),
        run_dir=run_dir,
        encoder_weights=weights,
        epochs=number("epochs", "CAPTION_EPOCHS", 20),
        shapes_images=number("shapes_images", "CAPTION_SHAPES_IMAGES", 1000),
        seed=number("seed", "CAPTION_SEED", 0, least=0),
        encoder=encoder,
        strategy=_checked(check_strategy, sources.get("strategy", "none")),
        precision=_checked(check_precision, sources.get("precision", "float32")),
    )


def quick_demo() -> bool:
    """Whether the tests asked for shorter demonstrations (``CAPTION_QUICK=1``, set by
    ``conftest.py``): notebook 02 probes fewer images, notebook 08 trains fewer epochs.

    Not a setting of the series: a learner never needs it. A model trained
    this way is marked ``"quick": true`` in its ``model.json`` and scores
    (:func:`helpers.runs.run_info`).
    """
    raw = os.environ.get(QUICK_VARIABLE, "0").strip().lower()
    if raw not in ("", "0", "1", "false", "true", "no", "yes"):
        raise ValueError(f"{QUICK_VARIABLE}={raw!r}: set it to 1 (quick) or 0")
    return raw in ("1", "true", "yes")


QUICK_EPOCHS = 8
"""The most epochs notebook 08's attention model trains in a quick demonstration."""


def demo_epochs(epochs: int) -> int:
    """The epochs a demonstration trains: ``epochs``, or at most :data:`QUICK_EPOCHS` when the
    tests ask for quick demonstrations (:func:`quick_demo`; notebook 08 and ``make sweep``)."""
    return min(epochs, QUICK_EPOCHS) if quick_demo() else epochs
