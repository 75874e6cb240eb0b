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

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

DATASETS = ("flickr8k", "shapes", "flickr30k", "coco")
"""Names :func:`helpers.data.load_dataset` knows."""

ENCODERS = ("vgg16", "shapes-vgg", "shapes-vgg-small")
"""Encoders :func:`helpers.features.build_encoder` knows (notebook 02)."""

REPO_URL = "https://github.com/caption-tutorial/vgg16-lstm-captioning"
"""Where the series lives; Colab clones it to get ``helpers``."""


def repo_root() -> Path:
    """The repository folder, whatever the current working directory.

    nbval and Jupyter start kernels in ``notebooks/``, a script may run from
    anywhere: paths are therefore resolved from this file, not from the cwd.
    ``CAPTION_ROOT`` overrides it (useful when ``helpers`` is installed as a
    plain package rather than from a clone).
    """
    if "CAPTION_ROOT" in os.environ:
        return Path(os.environ["CAPTION_ROOT"]).expanduser().resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists() or (here / "notebooks").is_dir():
        return here
    return Path.cwd().resolve()


def write_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file renamed over it.

    A run that is killed mid-write leaves either the old file or the new one,
    never half a file: every artifact of the run folder is written this way.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def send_native_logs_to(path: str | Path | None = None) -> Path | None:
    """Send what compiled libraries write straight to standard error into a log file.

    TensorFlow's C++ core writes lines such as ``I0000 ... cudart_stub`` and
    ``E0000 ... failed call to cuInit`` (no GPU here, which is fine) directly to
    the process's file descriptor 2, before ``TF_CPP_MIN_LOG_LEVEL`` applies. A
    notebook shows them in red between the lesson's outputs. Called in a
    notebook's Setup cell, before TensorFlow is imported, this points descriptor
    2 at ``path`` (by default a file in the temporary folder), so they are kept
    there instead. In Jupyter, Python's own warnings and errors still reach the
    notebook: ``sys.stderr`` is the notebook's stream, not descriptor 2.
    Returns the log file's path (look there if the kernel dies), or None when
    it cannot be written, in which case nothing changes.
    """
    if path is None:  # one file per user: a lab machine's /tmp is shared
        user = os.environ.get("USER") or os.environ.get("USERNAME") or "user"
        path = Path(tempfile.gettempdir()) / f"caption-tutorial-{user}-native.log"
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        return None
    sys.stderr.flush()
    os.dup2(log, 2)
    os.close(log)
    return path


@contextlib.contextmanager
def native_logs_to_file(path: str | Path | None = None):
    """For command-line tools: :func:`send_native_logs_to` while the block runs, then back.

    TensorFlow's start-up lines go to the log file; the tool's own messages,
    printed after the block, reach the terminal as usual.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        yield send_native_logs_to(path)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def check_encoder(encoder: str) -> str:
    """``encoder`` if the series knows it, else an error that lists the choices."""
    if encoder not in ENCODERS:
        raise ValueError(f"Unknown encoder {encoder!r} (from CAPTION_ENCODER or the encoder "
                         f"argument); choose one of {', '.join(ENCODERS)}.")
    return encoder


def in_colab() -> bool:
    """True inside Google Colab (a fresh VM per notebook, a GPU, internet)."""
    return "google.colab" in sys.modules


def use_google_drive(folder: str = "caption-tutorial",
                     mount_point: str = "/content/drive") -> Path | None:
    """On Colab, keep the data and run folders in Google Drive, so they outlive the machine.

    Colab gives every notebook a fresh machine: without this, each notebook
    downloads Flickr8k and extracts features again. Mounts Drive (Colab asks
    for permission) and points ``CAPTION_ROOT`` at ``MyDrive/<folder>``, so
    ``data/`` and ``runs/`` live there for every notebook that does the same.
    Call it before :func:`get_settings`. Elsewhere it changes nothing and says so.
    """
    if not in_colab():
        import warnings

        warnings.warn("use_google_drive() works on Colab only; here the data and run folders "
                      "stay where they are (they outlive the kernel anyway).", stacklevel=2)
        return None
    from google.colab import drive

    drive.mount(mount_point)
    root = Path(mount_point) / "MyDrive" / folder
    root.mkdir(parents=True, exist_ok=True)
    os.environ["CAPTION_ROOT"] = str(root)
    return root


def in_kaggle() -> bool:
    """True inside a Kaggle notebook (datasets are mounted under ``/kaggle/input``)."""
    return "KAGGLE_KERNEL_RUN_TYPE" in os.environ or Path("/kaggle/input").is_dir()


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
    encoder = check_encoder(_pick(overrides, "encoder", "CAPTION_ENCODER",
                                  "shapes-vgg" if dataset == "shapes" else "vgg16").lower())
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
