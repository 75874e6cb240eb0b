"""Google Drive on Colab: pay for the series once, work on the local disk (every notebook).

Colab gives every notebook a fresh machine. Without a place that outlives it,
each notebook downloads Flickr8k again, extracts the features again and
trains again. Drive outlives the machine, but it is slow for what the series
does most: reading thousands of small JPEGs and random reads into a
memory-mapped grid of 1.6 GB. So Drive is used as a *store*, never as a work
folder:

* Drive keeps what is costly to make: the dataset's archives
  (``data/<dataset>/downloads/``), the pretrained encoders (``data/encoders/``),
  Keras' downloaded weights (``keras/models/``) and the run folder
  (``runs/<dataset>/<run>/``: feature cache, vocabulary, models, metrics).
* :func:`keep_on_drive` copies them to the machine's local disk when a
  notebook starts; the notebook unpacks the archives there and works there.
  Nothing else reads Drive.
* After every cell, what the cell wrote, changed or deleted in those folders
  is written back (:meth:`DriveMirror.save`), so a runtime that Colab recycles
  loses at most the cell that was running. Each copy lands under a temporary
  name and is then renamed, so Drive never holds half a file.

The unpacked images are never copied to Drive: unpacking the archive on the
local disk takes seconds; reading 8,091 files through the Drive mount takes
much longer (an estimate; Drive's speed varies).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from helpers.costs import fresh_runtime_note
from helpers.runtime import format_size, in_colab, keras_models_dir, replaced_atomically

DRIVE_FOLDER = "caption-tutorial"
"""The folder in ``MyDrive`` that holds the series (the same for every notebook)."""

MOUNT_POINT = "/content/drive"
"""Where Colab mounts Google Drive."""

_MIRRORS: dict[Path, DriveMirror] = {}  # one per Drive folder and run: a cell run twice adds none


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    """Same size and, within Drive's two seconds, the same modification time: no copy needed."""
    return a.st_size == b.st_size and abs(a.st_mtime - b.st_mtime) < 2


def _files(folder: Path) -> dict[str, os.stat_result]:
    """Every file under ``folder`` by its path relative to it, without temporary dot-files."""
    found = {}
    if folder.is_dir():
        for path in folder.rglob("*"):
            relative = path.relative_to(folder)
            if path.is_file() and not any(p.startswith(".") for p in relative.parts):
                found[relative.as_posix()] = path.stat()
    return found


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` whole or not at all, keeping its modification time."""
    with replaced_atomically(target) as tmp:  # a dot-file until renamed: _files skips it
        shutil.copy2(source, tmp)


@dataclass
class DriveMirror:
    """Folders of the local disk and their copies on Drive, kept the same after every cell."""

    pairs: list[tuple[Path, Path]]
    """(local folder, Drive folder) pairs."""
    known: set[tuple[int, str]] = field(default_factory=set)
    """Files that both sides held at the last restore or save: (pair, relative path)."""

    def restore(self) -> tuple[int, int]:
        """Copy to the local disk what Drive holds and the local disk lacks; (files, bytes)."""
        files = size = 0
        for i, (local, drive) in enumerate(self.pairs):
            here = _files(local)
            for name, stat in _files(drive).items():
                if name not in here or not _same(here[name], stat):
                    _copy(drive / name, local / name)
                    files, size = files + 1, size + stat.st_size
                self.known.add((i, name))
        return files, size

    def save(self) -> tuple[int, int, int]:
        """Write back to Drive what changed on the local disk; (copied, bytes, deleted).

        A file that was on both sides and is gone from the local disk (an old
        checkpoint that training removed, a stale cache) is deleted on Drive
        too, so a later notebook never restores it.
        """
        copied = size = deleted = 0
        for i, (local, drive) in enumerate(self.pairs):
            here, there = _files(local), _files(drive)
            for name, stat in here.items():
                if name not in there or not _same(stat, there[name]):
                    _copy(local / name, drive / name)
                    copied, size = copied + 1, size + stat.st_size
                self.known.add((i, name))
            for name in [n for j, n in self.known if j == i and n not in here]:
                (drive / name).unlink(missing_ok=True)
                self.known.discard((i, name))
                deleted += 1
        return copied, size, deleted

    def save_after_cell(self, result=None) -> None:
        """IPython's ``post_run_cell`` hook: :meth:`save`, saying what it wrote (if anything)."""
        try:
            copied, size, deleted = self.save()
        except OSError as err:  # Drive full or unmounted: say so, lose nothing local
            print(f"Google Drive: could not save this cell's results ({err}). They are still "
                  "on this machine; free space on Drive, then run `drive.save()`.")
            return
        if copied or deleted:
            print(f"Google Drive: saved {copied} new or changed files ({format_size(size)})"
                  + (f", removed {deleted} that this machine deleted" if deleted else ""))


def drive_pairs(settings, drive_root: Path) -> list[tuple[Path, Path]]:
    """What Drive keeps for ``settings``'s run: (local folder, folder under ``drive_root``)."""
    data, stored = Path(settings.data_dir), drive_root / "data"
    return [
        (data / settings.dataset / "downloads", stored / settings.dataset / "downloads"),
        (data / "encoders", stored / "encoders"),
        (keras_models_dir(), drive_root / "keras" / "models"),
        (Path(settings.run_dir),
         drive_root / "runs" / settings.dataset / Path(settings.run_dir).name),
    ]


def keep_on_drive(settings, use_drive: bool = True, notebook: str | None = None,
                  folder: str = DRIVE_FOLDER) -> DriveMirror | None:
    """On Colab, keep the run's costly files on Google Drive; elsewhere do nothing.

    With ``use_drive`` (the Parameters cells' ``USE_DRIVE``): mount Drive
    (Colab asks for permission), copy ``MyDrive/<folder>``'s archives, encoders,
    Keras weights and run folder to the local disk, and save what each later
    cell writes back to Drive. Without it, on Colab, say what this fresh
    machine will rebuild for ``notebook`` (``"05"``) and about how long that
    takes (:func:`helpers.costs.fresh_runtime_note`). Returns the mirror, or
    None. Taught in notebook 01; every Parameters cell calls it.
    """
    if not in_colab():
        return None
    mount = Path(MOUNT_POINT)
    if use_drive and not (mount / "MyDrive").is_dir():
        from google.colab import drive

        try:
            drive.mount(str(mount))
        except Exception as err:  # permission refused, or Drive unreachable: go on without
            print(f"Google Drive could not be mounted ({err}); going on without it.")
            use_drive = False
    if not use_drive:
        if notebook is not None:
            print(fresh_runtime_note(notebook, settings))
        return None
    root = mount / "MyDrive" / folder
    key = root / "runs" / settings.dataset / Path(settings.run_dir).name
    mirror = _MIRRORS.get(key)
    first = mirror is None
    if first:
        mirror = DriveMirror(drive_pairs(settings, root))
    files, size = mirror.restore()
    print(f"Google Drive: {root} keeps the archives, features and models; copied "
          f"{files} files ({format_size(size)}) to this machine's disk, where the notebook "
          "works. What a cell writes goes back to Drive after it.")
    if first:
        _MIRRORS[key] = mirror
        ipython = sys.modules.get("IPython")  # loaded in a notebook; not a dependency
        shell = ipython.get_ipython() if ipython is not None else None
        if shell is not None:  # outside IPython the caller saves with mirror.save()
            shell.events.register("post_run_cell", mirror.save_after_cell)
    return mirror
