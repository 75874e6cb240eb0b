"""A Flickr8k-scale rehearsal: notebooks 01-06 end to end on a stand-in for Flickr8k.

The real Flickr8k images cannot be downloaded everywhere, but what makes the
series slow or hungry at Flickr8k scale is the *number* of images and captions,
not what the pictures show. This script builds a rehearsal copy of Flickr8k:

* the real caption and split files (``Flickr8k.token.txt`` and the three
  ``Flickr_8k.*Images.txt``) from ``../shared/reference/flickr8k_text/``;
* a generated stand-in JPEG (a shapes-world scene, 500x375 like a typical
  Flickr photo) for every image the real image folder holds: the 8,091 names
  of the caption file, less ``2258277193_586949ec62.jpg``, whose captions
  have no image in the real zip either;

in the official layout, then executes notebooks 01-06 on it, in order, each in
its own process, with ``CAPTION_DATASET=flickr8k`` and
``CAPTION_ENCODER_WEIGHTS=none`` (the same VGG16, randomly initialised: no
download). It records each notebook's wall time and peak memory (resident set
of the process tree) and prints a table for docs/maintainers.md's rehearsal record.

Run it with ``python -m benchmarks.rehearsal`` (about an hour on 2 CPU cores;
``--epochs`` shortens the training). It is a measurement, not a test. Where the
reference text files are absent it says so and stops.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from helpers.runtime import repo_root

REFERENCE = repo_root().parent / "shared" / "reference" / "flickr8k_text"
TEXT_FILES = ("Flickr8k.token.txt", "Flickr_8k.trainImages.txt", "Flickr_8k.devImages.txt",
              "Flickr_8k.testImages.txt")
NOT_IN_THE_ZIP = "2258277193_586949ec62.jpg"  # captioned, but missing from the real image folder
PHOTO_SIZE = (500, 375)


def build_flickr8k_copy(root: Path, reference: Path = REFERENCE) -> Path:
    """Write the rehearsal copy of Flickr8k into ``root`` (reused when already complete)."""
    from helpers.layouts import normalize_image_name
    from helpers.shapes import draw_scene, random_scene

    stamp = root / "rehearsal.json"
    if stamp.exists():
        return root
    text = root / "Flickr8k_text"
    images = root / "Flicker8k_Dataset"
    text.mkdir(parents=True, exist_ok=True)
    images.mkdir(parents=True, exist_ok=True)
    for name in TEXT_FILES:
        shutil.copyfile(reference / name, text / name)
    lines = (reference / TEXT_FILES[0]).read_text(encoding="utf-8").splitlines()
    names = sorted({normalize_image_name(line.split("#")[0]) for line in lines if "#" in line}
                   - {None, NOT_IN_THE_ZIP})
    rng = random.Random(0)
    for index, name in enumerate(names):
        path = images / name
        if not path.exists():  # resumes an interrupted build
            picture = draw_scene(random_scene(rng), noise_seed=index).resize(PHOTO_SIZE)
            picture.save(path.with_suffix(".tmp"), format="JPEG", quality=90)
            path.with_suffix(".tmp").rename(path)
    stamp.write_text(json.dumps({"images": len(names), "reference": str(reference)}))
    return root


def _tree_rss_gb(root: int) -> float:
    """Resident memory of a process and all its descendants (Linux ``/proc``), in GB."""
    parents, rss = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        pid = int(stat.parent.name)
        parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree.update(children)
        frontier = children
    return sum(rss.get(pid, 0) for pid in tree) / 2**30


def _run_notebook(notebook: Path, env: dict, out_dir: Path, timeout: int) -> dict:
    """Execute one notebook with nbconvert; its wall time and the peak memory of the process tree
    (nbconvert and the kernel it starts), sampled every half second."""
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               f"--ExecutePreprocessor.timeout={timeout}", "--output-dir", str(out_dir),
               str(notebook)]
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / f"{notebook.stem}.log"
    start = time.perf_counter()
    with log.open("w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        peak = 0.0
        while process.poll() is None:
            peak = max(peak, _tree_rss_gb(process.pid))
            time.sleep(0.5)
    seconds = time.perf_counter() - start
    error = log.read_text()[-1500:] if process.returncode else ""
    return {"notebook": notebook.name, "ok": process.returncode == 0, "seconds": seconds,
            "peak_gb": peak, "error": error}


def run(folder: Path, epochs: int, notebooks: list[Path]) -> list[dict]:
    """Build the copy, then execute each notebook on it; one row per notebook."""
    started = time.perf_counter()
    build_flickr8k_copy(folder / "data" / "flickr8k")
    build_seconds = time.perf_counter() - started
    env = dict(os.environ, CAPTION_DATASET="flickr8k", CAPTION_ENCODER="vgg16",
               CAPTION_ENCODER_WEIGHTS="none",
               CAPTION_DATA_DIR=str(folder / "data"), CAPTION_RUN_DIR=str(folder / "run"),
               CAPTION_EPOCHS=str(epochs), TF_CPP_MIN_LOG_LEVEL="2")
    rows = [{"notebook": "(building the copy)", "ok": True, "seconds": build_seconds,
             "peak_gb": float("nan"), "error": ""}]
    for notebook in notebooks:
        row = _run_notebook(notebook, env, folder / "notebooks", timeout=4 * 3600)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if not row["ok"]:
            break
    return rows


def report(rows: list[dict], epochs: int) -> list[str]:
    """A Markdown table for docs/maintainers.md."""
    lines = [f"Flickr8k-scale rehearsal, {platform.machine()}, {os.cpu_count()} CPUs, "
             f"random-init VGG16, {epochs} epochs:", "",
             "| notebook | wall time | peak memory | result |", "| --- | --- | --- | --- |"]
    for row in rows:
        peak = "-" if row["peak_gb"] != row["peak_gb"] else f"{row['peak_gb']:.1f} GB"
        lines.append(f"| {row['notebook']} | {row['seconds'] / 60:.1f} min | {peak} | "
                     f"{'ok' if row['ok'] else 'FAILED'} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=repo_root() / "runs" / "rehearsal")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--notebooks", nargs="*", help="notebook files (default: 01-06)")
    args = parser.parse_args(argv)
    if not (REFERENCE / TEXT_FILES[0]).is_file():
        print(f"No Flickr8k caption files in {REFERENCE}: the rehearsal needs the real "
              "Flickr8k text files there (Flickr8k.token.txt and the three split files).")
        return 0
    notebooks = [Path(p) for p in args.notebooks] if args.notebooks else sorted(
        (repo_root() / "notebooks").glob("0[1-6]_*.ipynb"))
    rows = run(args.folder.resolve(), args.epochs, notebooks)
    (args.folder / "rehearsal.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(report(rows, args.epochs)))
    failed = [r for r in rows if not r["ok"]]
    for row in failed:
        print(f"\n{row['notebook']} failed:\n{row['error']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
