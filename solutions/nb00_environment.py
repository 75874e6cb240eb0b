"""Notebook 00 (environment check), exercises 2 and 3."""

from __future__ import annotations

import uuid
from pathlib import Path

from helpers.check import Check, check_downloads


def download_checks(timeout: float, imagenet_url: str | None = None,
                    flickr8k_url: str | None = None) -> list[Check]:
    """Exercise 2: the two download lines with a given ``timeout`` (seconds).

    With ``TIMEOUT = 0.001`` a site that is there is reported "not reachable":
    the lines are optional, so the summary still says READY.
    """
    urls = {"imagenet_url": imagenet_url} if imagenet_url else {}
    return check_downloads(timeout, flickr8k_url=flickr8k_url, **urls)


def check_run_folder(run_dir: str | Path) -> Check:
    """Exercise 3: whether the run folder can be made and written to (required).

    Makes the folder if it is missing, writes a small file and deletes it.
    """
    run_dir = Path(run_dir)
    probe = run_dir / f".write-test-{uuid.uuid4().hex}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        return Check("run folder", False, f"{run_dir} cannot be written ({err.strerror or err})",
                     "set CAPTION_RUN_DIR to a folder you can write to")
    return Check("run folder", True, f"{run_dir} is writable")
