"""What a long step will cost, said before it starts (notebooks 02, 05, 08, 09; Colab: all).

A learner on a CPU laptop who opens a Flickr8k notebook should read "this
takes about 45 minutes here" before the 45 minutes, not after, with the way
out next to it. The speeds below are rough **estimates** for whole classes of
machine, from one 2-core CPU (docs/benchmarks.md) and from what a Colab T4
usually does; a real machine differs, so a note says "about" and names them
as estimates. Steps shorter than :data:`LONG_STEP_SECONDS` say nothing.
"""

from __future__ import annotations

from helpers.encoders import encoder_spec
from helpers.runtime import format_duration, gpu_names
from helpers.settings import SHAPES_INSTEAD, get_settings

LONG_STEP_SECONDS = 600
"""A step expected to take longer than this (10 minutes) says so before it starts."""

SPEEDS: dict[tuple[str, str], float] = {
    # (step, device): units per second, estimates
    ("vgg16 features", "cpu"): 3.0,          # images/s: 2-core x86_64, make rehearsal
    ("vgg16 features", "gpu"): 150.0,        # images/s: a T4, not measured here
    ("resnet50v2 features", "cpu"): 11.0,     # images/s: VGG16's 3.0 times 3.6, how much
    ("resnet50v2 features", "gpu"): 400.0,    # faster its forward pass was on 2 cores here
    ("efficientnetb0 features", "cpu"): 30.0,  # images/s: the same, 11 times faster here
    ("efficientnetb0 features", "gpu"): 600.0,
    ("shapes-vgg features", "cpu"): 150.0,   # images/s: 2-core x86_64, make bench
    ("shapes-vgg features", "gpu"): 2000.0,
    ("merge training", "cpu"): 2400.0,       # words/s at Flickr8k scale, make bench
    ("merge training", "gpu"): 20000.0,
    ("attention training", "cpu"): 1000.0,   # words/s, make bench
    ("attention training", "gpu"): 8000.0,
    ("transformer training", "cpu"): 4000.0,  # words/s at Flickr8k scale, make bench
    ("transformer training", "gpu"): 20000.0,
}
"""Rough speeds of the series' long steps, per kind of device (estimates)."""

UNITS = {"features": "images", "training": "words"}


def device() -> str:
    """``"gpu"`` when TensorFlow sees a GPU, else ``"cpu"``."""
    return "gpu" if gpu_names() else "cpu"


def estimate_seconds(step: str, amount: float, on: str | None = None) -> float | None:
    """About how long ``step`` takes for ``amount`` images or words on device ``on``.

    ``None`` when the series has no estimate for that step.

    >>> estimate_seconds("vgg16 features", 8091, on="cpu") / 60  # Flickr8k on a 2-core CPU
    44.95
    """
    speed = SPEEDS.get((step, on or device()))
    return None if speed is None else amount / speed


def cost_note(step: str, amount: float, on: str | None = None) -> str | None:
    """What to tell a learner before ``step`` on ``amount`` units, if it is long; else None.

    Says the estimate, that it is one, what a GPU would change, that the
    step resumes if interrupted, and how to learn on the shapes world instead.
    """
    on = on or device()
    seconds = estimate_seconds(step, amount, on)
    if seconds is None or seconds < LONG_STEP_SECONDS:
        return None
    unit = UNITS[step.split()[-1]]
    note = (f"This step is long: {step} for {amount:,.0f} {unit} takes about "
            f"{format_duration(seconds)} on this machine's {on.upper()} (estimate: about "
            f"{SPEEDS[step, on]:,.0f} {unit} per second).")
    gpu = estimate_seconds(step, amount, "gpu")
    if on == "cpu" and gpu is not None:
        note += (f" With a GPU, about {format_duration(gpu)} (estimate; on Colab: Runtime > "
                 "Change runtime type > T4 GPU).")
    return (note + " Interrupted, it resumes where it stopped. To learn on a small world "
            f"instead: {SHAPES_INSTEAD}.")


# --- A fresh Colab runtime: what each notebook rebuilds first (notebooks 01-08) -------------

NEEDS: dict[str, tuple[str, ...]] = {
    "00": (),
    "01": ("dataset",),
    "02": ("dataset",),
    "03": ("dataset",),
    "04": ("dataset", "features", "vocabulary"),
    "05": ("dataset", "features", "vocabulary"),
    "06": ("dataset", "features", "vocabulary", "model"),
    "07": ("dataset", "features", "vocabulary", "model"),
    "08": ("dataset", "features", "grid", "vocabulary", "model"),
    "09": ("dataset", "features", "grid", "vocabulary", "model", "attention model"),
}
"""What each notebook needs from the notebooks before it (:func:`helpers.pipeline.prepare`
and ``load_or_train`` rebuild it when it is missing)."""

MADE_BY = {"dataset": "01", "features": "02", "grid": "02", "vocabulary": "03", "model": "05",
           "attention model": "08"}

TRANSFER_MB_PER_S = {"download": 30.0, "drive": 100.0, "unpack": 40.0}
"""Rough speeds on Colab in MB/s (estimates): a download from the dataset's server, a copy
from the Drive mount to the local disk, unpacking a zip."""

SIZES_MB = {
    "flickr8k": {"dataset": 1120.0, "features": 70.0, "grid": 1640.0, "model": 30.0,
                 "attention model": 30.0},
    "shapes": {"dataset": 0.0, "features": 5.0, "grid": 100.0, "model": 10.0,
               "attention model": 5.0},
}
"""About how many MB each artifact takes (estimates; the zips of Flickr8k are about 1.1 GB)."""

PRETRAINING_SECONDS = {"cpu": 140.0, "gpu": 30.0}
"""Pretraining ``shapes-vgg`` (estimates; 2.3 min measured on a 2-core CPU, README)."""

TRAIN_WORDS_PER_IMAGE = {"flickr8k": 64.0, "shapes": 61.0}
"""Words (``<end>`` included) the training captions hold per training picture: 383,454 for
Flickr8k's 6,000 (counted from its caption file), about 61 per picture in the shapes world."""


def rebuild_seconds(notebook: str, settings, on: str, drive: bool) -> float:
    """About how long a fresh runtime spends getting what ``notebook`` needs (an estimate).

    Without Drive it downloads and rebuilds; with Drive (after the notebook
    that made each part) it copies from Drive to the local disk and unpacks.
    """
    dataset = settings.dataset if settings.dataset in SIZES_MB else "flickr8k"
    sizes = SIZES_MB[dataset]
    images = settings.shapes_images if dataset == "shapes" else 8091
    encoder = encoder_spec(settings.encoder).family  # the name of its speed in SPEEDS
    seconds = 0.0
    for part in NEEDS[notebook]:
        if part == "vocabulary":
            continue  # seconds either way
        if drive:
            seconds += sizes.get(part, 0.0) / TRANSFER_MB_PER_S["drive"]
            if part == "dataset":
                seconds += sizes["dataset"] / TRANSFER_MB_PER_S["unpack"]
        elif part == "dataset":
            seconds += sizes["dataset"] * (1 / TRANSFER_MB_PER_S["download"]
                                           + 1 / TRANSFER_MB_PER_S["unpack"])
        elif part == "features":  # one pass gives the grid too
            seconds += estimate_seconds(f"{encoder} features", images, on)
            if encoder == "shapes-vgg":  # its weights are pretrained first
                seconds += PRETRAINING_SECONDS[on]
        elif part in ("model", "attention model"):
            words = TRAIN_WORDS_PER_IMAGE[dataset] * images * 0.75  # the training split
            step = "merge training" if part == "model" else "attention training"
            seconds += settings.epochs * estimate_seconds(step, words, on)
    return seconds


def fresh_runtime_note(notebook: str, settings, on: str | None = None) -> str:
    """What a fresh Colab machine without Drive rebuilds before ``notebook``, and how long."""
    on = on or device()
    parts = [p for p in NEEDS[notebook] if p != "grid"]
    if not parts:
        return "Google Drive: not used (this notebook needs nothing from the notebooks before it)."
    made_by = sorted({MADE_BY[p] for p in parts})
    without = format_duration(rebuild_seconds(notebook, settings, on, drive=False))
    with_drive = format_duration(rebuild_seconds(notebook, settings, on, drive=True))
    return (f"Google Drive: not used. This fresh machine first rebuilds what notebooks "
            f"{made_by[0]}-{made_by[-1]} made ({', '.join(parts)} of {settings.dataset}): about "
            f"{without} on its {on.upper()} (estimate). USE_DRIVE = True in the Parameters "
            f"cell keeps them in your Google Drive, so the series pays for them once; after "
            f"that, getting them here takes about {with_drive} (estimate)."
            if len(made_by) > 1 else
            f"Google Drive: not used. This fresh machine first gets the {settings.dataset} "
            f"dataset: about {without} (estimate). USE_DRIVE = True in the Parameters cell "
            f"keeps its archives in your Google Drive (then about {with_drive}, estimate).")


def fresh_runtime_table(settings, on: str = "gpu") -> str:
    """Every notebook's rebuild on a fresh Colab runtime, without and with Drive (estimates)."""
    lines = [f"notebook  {'without Drive':>13}  {'with Drive':>10}"]
    for nb in NEEDS:
        without = format_duration(rebuild_seconds(nb, settings, on, drive=False))
        with_drive = format_duration(rebuild_seconds(nb, settings, on, drive=True))
        lines.append(f"{nb:<8}  {without:>13}  {with_drive:>10}")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m helpers.costs: the README's Colab columns
    for dataset in ("flickr8k", "shapes"):
        for on in ("gpu", "cpu"):
            print(f"\n{dataset}, a fresh Colab runtime with a {on.upper()}: the rebuild before "
                  "each notebook (estimates)")
            print(fresh_runtime_table(get_settings(dataset=dataset), on))
