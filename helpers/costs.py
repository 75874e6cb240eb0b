"""What a long step will cost, said before it starts (notebooks 02, 05 and 08).

A learner on a CPU laptop who opens a Flickr8k notebook should read "this
takes about 45 minutes here" before the 45 minutes, not after, with the way
out next to it. The speeds below are rough **estimates** for whole classes of
machine, from one 2-core CPU (docs/benchmarks.md) and from what a Colab T4
usually does; a real machine differs, so a note says "about" and names them
as estimates. Steps shorter than :data:`LONG_STEP_SECONDS` say nothing.
"""

from __future__ import annotations

from helpers.runtime import format_duration, gpu_names
from helpers.settings import SHAPES_INSTEAD

LONG_STEP_SECONDS = 600
"""A step expected to take longer than this (10 minutes) says so before it starts."""

SPEEDS: dict[tuple[str, str], float] = {
    # (step, device): units per second, estimates
    ("vgg16 features", "cpu"): 3.0,          # images/s: 2-core x86_64, make rehearsal
    ("vgg16 features", "gpu"): 150.0,        # images/s: a T4, not measured here
    ("shapes-vgg features", "cpu"): 150.0,   # images/s: 2-core x86_64, make bench
    ("shapes-vgg features", "gpu"): 2000.0,
    ("merge training", "cpu"): 2400.0,       # words/s at Flickr8k scale, make bench
    ("merge training", "gpu"): 20000.0,
    ("attention training", "cpu"): 1000.0,   # words/s, make bench
    ("attention training", "gpu"): 8000.0,
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
