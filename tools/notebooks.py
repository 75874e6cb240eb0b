"""Keep the notebooks tidy and their Colab parts generated from one setting: ``make format``.

For every ``notebooks/NN_*.ipynb`` this writes, from ``helpers.runtime.REPO_URL`` and
``helpers.runtime.REPO_REF`` (the branch or tag, ``main`` unless a course pins one):

* the badge row at the end of the first cell (Open in Colab, View on GitHub),
  each pointing at the notebook's own file at ``REPO_REF``;
* the Setup cell that makes ``helpers`` importable: on Colab it clones the
  repository at ``REPO_REF`` (and stops with what to do when that fails) and
  ``%pip install``s only what Colab lacks (never TensorFlow);
* the notebook metadata: Python 3 kernel, and a GPU runtime on Colab for the
  notebooks that run networks (:data:`USES_A_GPU`);

* the last code cell before the Summary, which prints how long the notebook
  took (``STARTED``, set by the Setup cell, to ``helpers.runtime.took``);

and it strips outputs and execution counts, except in cells tagged
``nbval-check-output`` (nbval compares their output; a tag keeps the marker out
of the lesson's code), and cell metadata other than tags. The README's Colab
links follow the same setting. Running it twice changes nothing. ``--check``
changes nothing and exits with status 1 when a file differs from what it would
write (``make test`` runs it). ``--ref`` first writes a new ``REPO_REF`` into
``helpers/runtime.py``, so badges and the code they clone stay one version. It
needs only Python, no virtual environment::

    python -m tools.notebooks                    # rewrite what differs
    python -m tools.notebooks --check            # only report
    python -m tools.notebooks --ref course-2027  # pin a course to a tag (make format REF=...)
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

from helpers.runtime import REPO_REF, REPO_URL

ROOT = Path(__file__).resolve().parents[1]

COLAB_LACKS = {"06_evaluation.ipynb": ["pycocoevalcap"],
               "07_visualizing_captions.ipynb": ["pycocoevalcap"],
               "08_attention.ipynb": ["pycocoevalcap"]}
"""Packages a notebook imports that Colab does not have; its Setup cell installs them."""

REF_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
"""What a ``REPO_REF`` may be: a git branch or tag name, safe inside a URL and a string."""
SETUP_MARK = 'IN_COLAB = "google.colab" in sys.modules'
CHECKED = "nbval-check-output"
"""The cell tag with which nbval compares a cell's output with the committed one."""
TOOK_MARK = "took(STARTED)"
TOOK_CELL = ("from helpers.runtime import took\n\n"
             "print(took(STARTED))  # this run's time; README.md, \"How long it takes\", has one "
             "machine's")
"""The generated last code cell: the notebook's own elapsed time, printed by the run."""


def is_checked(cell: dict) -> bool:
    """Whether nbval checks ``cell``'s output (so its committed output is kept)."""
    return CHECKED in cell.get("metadata", {}).get("tags", [])


def repository() -> tuple[str, str]:
    """``(owner/name, name)`` of :data:`helpers.runtime.REPO_URL`."""
    owner_name = REPO_URL.removeprefix("https://github.com/").strip("/")
    return owner_name, owner_name.split("/")[1]


def clone_folder() -> str:
    """The folder ``git clone REPO_URL`` makes: the address's last part without ``.git``."""
    return REPO_URL.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")


def badges(notebook: str) -> list[str]:
    """The badge row of ``notebook``: Colab and GitHub, both pointing at its own file."""
    owner_name, _ = repository()
    path = f"{owner_name}/blob/{REPO_REF}/notebooks/{notebook}"
    return [f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path})",
            f"[![View on GitHub](https://img.shields.io/badge/view%20on-GitHub-181717?logo=github)]"
            f"(https://github.com/{path})"]


def setup_cell(notebook: str) -> str:
    """The Setup code: clone on Colab, find ``helpers`` locally, install what Colab lacks.

    On Colab it clones :data:`REPO_URL` at :data:`REPO_REF` once (a second run
    finds the folder); when git fails it raises right there with the address,
    git's message and what a fork or a private fork does, instead of a
    ``No module named 'helpers'`` two cells later. It cannot import ``helpers``
    for that message: ``helpers`` is what it fetches.
    """
    name = clone_folder()
    text = f'''import subprocess
import sys
import time
from pathlib import Path

STARTED = time.monotonic()  # the notebook's last cell prints how long it took
{SETUP_MARK}
# The code to clone; `make format` writes these from helpers/runtime.py:
REPO_URL = "{REPO_URL}"
REPO_REF = "{REPO_REF}"
if IN_COLAB:
    if not Path("{name}").exists():
        git = subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", REPO_REF,
                              REPO_URL, "{name}"], capture_output=True, text=True)
        if git.returncode != 0:
            said = "\\n  ".join([line for line in git.stderr.splitlines() if line][-3:])
            raise RuntimeError(
                f"Could not clone {{REPO_URL}} at {{REPO_REF}}. git says:\\n  {{said}}\\n"
                "A fork: set REPO_URL (and REPO_REF) in helpers/runtime.py, run `make format`"
                " (or `python -m tools.notebooks`: no virtual environment needed), push, and"
                " open the notebook from the fork.\\nA private fork: put a personal access token"
                " in REPO_URL above (https://<token>@github.com/<you>/<repo>; never share the"
                " notebook with it), or upload the code to Drive, mount it and add its folder"
                " to sys.path instead of running this cell.")
    sys.path.insert(0, str(Path("{name}").resolve()))

try:
    import helpers  # noqa: F401
except ModuleNotFoundError:  # a local clone without `pip install -e .`
    sys.path.insert(0, str(Path.cwd().parent))'''
    if COLAB_LACKS.get(notebook):
        text += f"\n\nif IN_COLAB:\n    %pip install -q {' '.join(COLAB_LACKS[notebook])}"
    return text


USES_A_GPU = ("02", "04", "05", "06", "07", "08", "09")
"""The notebooks that run networks, or may rebuild what earlier ones made (features, a
model) on a fresh Colab runtime. 00, 01 and 03 do not: asking Colab for a GPU there
would spend a student's quota for nothing."""


def metadata(notebook: str) -> dict:
    """Notebook metadata: the Python 3 kernel, and a GPU on Colab where one is used."""
    colab: dict = {"provenance": []}
    meta: dict = {"colab": colab,
                  "kernelspec": {"display_name": "Python 3", "language": "python",
                                 "name": "python3"},
                  "language_info": {"name": "python"}}
    if notebook[:2] in USES_A_GPU:
        colab["gpuType"] = "T4"
        meta["accelerator"] = "GPU"
    return meta


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def tidy(nb: dict, notebook: str) -> dict:
    """What ``notebook`` should be: the same lessons, generated parts and clean cells."""
    nb = copy.deepcopy(nb)
    nb["metadata"] = metadata(notebook)
    first = "".join(nb["cells"][0]["source"]).split("\n")
    kept = [line for line in first if not line.startswith(("[![Open In Colab]",
                                                            "[![View on GitHub]"))]
    while kept and not kept[-1]:
        kept.pop()
    nb["cells"][0]["source"] = _lines("\n".join([*kept, "", *badges(notebook)]))
    setups = [c for c in nb["cells"] if c["cell_type"] == "code"
              and SETUP_MARK in "".join(c["source"])]
    if len(setups) != 1:
        raise ValueError(f"{notebook}: expected one Setup cell with `{SETUP_MARK}`, "
                         f"found {len(setups)}")
    setups[0]["source"] = _lines(setup_cell(notebook))
    _place_took_cell(nb["cells"], notebook)
    _give_ids(nb["cells"])
    for cell in nb["cells"]:
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k == "tags"}
        if cell["cell_type"] == "code" and not is_checked(cell):
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def _give_ids(cells: list[dict]) -> None:
    """Every cell a unique id (nbformat 4.5 requires one): a missing or repeated one gets
    ``cell-<index>``, so the same notebook always gets the same ids."""
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = f"cell-{index}"
            while cell["id"] in seen:
                cell["id"] += "-b"
        seen.add(cell["id"])


def _place_took_cell(cells: list[dict], notebook: str) -> None:
    """Put :data:`TOOK_CELL` just before the ``## Summary`` cell, once."""
    for index in [i for i, c in enumerate(cells) if TOOK_MARK in "".join(c["source"])][::-1]:
        cells.pop(index)
    summary = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
               and "".join(c["source"]).startswith("## Summary")]
    if len(summary) != 1:
        raise ValueError(f"{notebook}: expected one '## Summary' cell, found {len(summary)}")
    cells.insert(summary[0], {"cell_type": "code", "execution_count": None,
                              "id": "took-" + notebook[:2], "metadata": {},
                              "outputs": [], "source": _lines(TOOK_CELL)})


def dumps(nb: dict) -> str:
    """The repository's notebook format: one-space indent, UTF-8, a final newline."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def readme_links(text: str) -> str:
    """The README's Colab and GitHub notebook links, at :data:`REPO_URL` and :data:`REPO_REF`."""
    owner_name, _ = repository()
    ref = r"/blob/[A-Za-z0-9._/-]+?/notebooks/"
    text = re.sub(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+" + ref,
                  f"https://colab.research.google.com/github/{owner_name}/blob/{REPO_REF}"
                  "/notebooks/", text)
    return re.sub(r"https://github\.com/[\w.-]+/[\w.-]+" + ref,
                  f"https://github.com/{owner_name}/blob/{REPO_REF}/notebooks/", text)


def set_ref(root: Path, ref: str) -> None:
    """Write ``ref`` as ``REPO_REF`` into ``root/helpers/runtime.py`` and use it from now on."""
    global REPO_REF
    if not REF_PATTERN.fullmatch(ref) or ".." in ref or ref.endswith((".", "/", ".lock")):
        raise ValueError(f"--ref {ref!r} is not a git branch or tag name: use letters, digits "
                         "and . _ - /, for example course-2027")
    path = root / "helpers" / "runtime.py"
    text = path.read_text(encoding="utf-8")
    new, found = re.subn(r'^REPO_REF = "[^"\n]*"$', f'REPO_REF = "{ref}"', text, flags=re.M)
    if found != 1:
        raise ValueError(f"{path}: expected one line `REPO_REF = \"...\"`, found {found}; "
                         "put it back next to REPO_URL")
    if new != text:
        path.write_text(new, encoding="utf-8")
    REPO_REF = ref


def run(root: Path = ROOT, check: bool = False, ref: str | None = None) -> list[str]:
    """Tidy every notebook and the README under ``root``; the names of files that differed.

    With ``ref``, first pin ``root``'s ``helpers/runtime.py`` to it (see :func:`set_ref`).
    """
    differing = []
    if ref is not None:
        set_ref(root, ref)
    targets = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in targets:
        before = path.read_text(encoding="utf-8")
        after = dumps(tidy(json.loads(before), path.name))
        if after != before:
            differing.append(str(path.relative_to(root)))
            if not check:
                path.write_text(after, encoding="utf-8")
    readme = root / "README.md"
    if readme.exists():
        before = readme.read_text(encoding="utf-8")
        after = readme_links(before)
        if after != before:
            differing.append("README.md")
            if not check:
                readme.write_text(after, encoding="utf-8")
    return differing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.notebooks",
                                     description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="change nothing; exit 1 if a file is not as it would be written")
    mode.add_argument("--ref", metavar="BRANCH_OR_TAG",
                      help="write REPO_REF into helpers/runtime.py first, e.g. a course's tag")
    args = parser.parse_args(argv)
    try:
        differing = run(check=args.check, ref=args.ref)
    except ValueError as error:
        parser.error(str(error))
    if args.check and differing:
        print("Not formatted (run `make format`): " + ", ".join(differing))
        return 1
    print(("Rewrote: " + ", ".join(differing)) if differing else "Notebooks already tidy.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
