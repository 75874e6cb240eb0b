"""Keep the notebooks tidy and their Colab parts generated from one setting: ``make format``.

For every ``notebooks/NN_*.ipynb`` this writes, from ``helpers.runtime.REPO_URL``:

* the badge row at the end of the first cell (Open in Colab, View on GitHub),
  each pointing at the notebook's own file;
* the Setup cell that makes ``helpers`` importable: on Colab it clones the
  repository and ``%pip install``s only what Colab lacks (never TensorFlow);
* the notebook metadata: Python 3 kernel, and a GPU runtime on Colab for the
  notebooks that run networks (02 on);

and it strips outputs and execution counts, except in cells marked
``# NBVAL_CHECK_OUTPUT`` (their output is checked by nbval), and cell metadata
other than tags. The README's Colab links follow the same setting. Running it
twice changes nothing. ``--check`` changes nothing and exits with status 1
when a file differs from what it would write (``make test`` runs it)::

    python -m tools.notebooks          # rewrite what differs
    python -m tools.notebooks --check  # only report
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

from helpers.runtime import REPO_URL

ROOT = Path(__file__).resolve().parents[1]

COLAB_LACKS = {"06_evaluation.ipynb": ["pycocoevalcap"],
               "07_visualizing_captions.ipynb": ["pycocoevalcap"],
               "08_attention.ipynb": ["pycocoevalcap"]}
"""Packages a notebook imports that Colab does not have; its Setup cell installs them."""

SETUP_MARK = 'IN_COLAB = "google.colab" in sys.modules'
CHECKED = "# NBVAL_CHECK_OUTPUT"


def repository() -> tuple[str, str]:
    """``(owner/name, name)`` of :data:`helpers.runtime.REPO_URL`."""
    owner_name = REPO_URL.removeprefix("https://github.com/").strip("/")
    return owner_name, owner_name.split("/")[1]


def badges(notebook: str) -> list[str]:
    """The badge row of ``notebook``: Colab and GitHub, both pointing at its own file."""
    owner_name, _ = repository()
    path = f"{owner_name}/blob/main/notebooks/{notebook}"
    return [f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path})",
            f"[![View on GitHub](https://img.shields.io/badge/view%20on-GitHub-181717?logo=github)]"
            f"(https://github.com/{path})"]


def setup_cell(notebook: str) -> str:
    """The Setup code: clone on Colab, find ``helpers`` locally, install what Colab lacks."""
    _, name = repository()
    text = f'''import sys
from pathlib import Path

{SETUP_MARK}
if IN_COLAB:
    if not Path("{name}").exists():
        !git clone -q --depth 1 {REPO_URL}
    sys.path.insert(0, str(Path("{name}").resolve()))

try:
    import helpers  # noqa: F401
except ModuleNotFoundError:  # a local clone without `pip install -e .`
    sys.path.insert(0, str(Path.cwd().parent))'''
    if COLAB_LACKS.get(notebook):
        text += f"\n\nif IN_COLAB:\n    %pip install -q {' '.join(COLAB_LACKS[notebook])}"
    return text


def metadata(notebook: str) -> dict:
    """Notebook metadata: the Python 3 kernel, and a GPU on Colab from notebook 02 on."""
    colab: dict = {"provenance": []}
    meta: dict = {"colab": colab,
                  "kernelspec": {"display_name": "Python 3", "language": "python",
                                 "name": "python3"},
                  "language_info": {"name": "python"}}
    if int(notebook[:2]) >= 2:
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
    for cell in nb["cells"]:
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k == "tags"}
        if cell["cell_type"] == "code" and CHECKED not in "".join(cell["source"]):
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def dumps(nb: dict) -> str:
    """The repository's notebook format: one-space indent, UTF-8, a final newline."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def readme_links(text: str) -> str:
    """The README with every Colab and GitHub notebook link pointing at :data:`REPO_URL`."""
    owner_name, _ = repository()
    text = re.sub(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/main/",
                  f"https://colab.research.google.com/github/{owner_name}/blob/main/", text)
    return re.sub(r"https://github\.com/[\w.-]+/[\w.-]+/blob/main/",
                  f"https://github.com/{owner_name}/blob/main/", text)


def run(root: Path = ROOT, check: bool = False) -> list[str]:
    """Tidy every notebook and the README under ``root``; the names of files that differed."""
    differing = []
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
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file is not as it would be written")
    args = parser.parse_args(argv)
    differing = run(check=args.check)
    if args.check and differing:
        print("Not formatted (run `make format`): " + ", ".join(differing))
        return 1
    print(("Rewrote: " + ", ".join(differing)) if differing else "Notebooks already tidy.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
