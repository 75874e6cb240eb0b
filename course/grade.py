"""``python -m course.grade AUTOGRADER NOTEBOOK``: grade one notebook, offline, without Docker.

It runs otter-grader's ``otter run`` with an assignment's autograder (``dist/autograder/<key>``
from ``make assignments``) in this environment, which must have the series installed
(``make setup``, then the ``[course]`` extra). Gradescope and ``otter grade`` (Docker) take
the same autograder zip.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    """One question's grade and the feedback a student would read."""

    name: str
    score: float
    points: float
    feedback: str


def autograder_zip(folder: Path) -> Path:
    """The one autograder zip otter assign wrote into ``folder``."""
    zips = sorted(Path(folder).glob("*-autograder_*.zip"))
    if len(zips) != 1:
        raise FileNotFoundError(f"{folder}: expected one autograder zip (make assignments), "
                                f"found {len(zips)}")
    return zips[0]


def grade(autograder: Path, notebook: Path, timeout: float = 900,
          env: dict[str, str] | None = None) -> dict[str, Result]:
    """Grade ``notebook`` with the autograder in folder ``autograder``: question -> result.

    ``env``: the environment to grade in (this process's by default)."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [sys.executable, "-m", "otter", "run", "--no-logo", "-a",
             str(autograder_zip(autograder)), "-o", out, str(notebook)],
            capture_output=True, text=True, timeout=timeout, env=env)
        results = Path(out) / "results.json"
        if done.returncode != 0 or not results.exists():
            raise RuntimeError(f"otter run could not grade {notebook}:\n{done.stdout[-3000:]}"
                               f"\n{done.stderr[-3000:]}")
        tests = json.loads(results.read_text())["tests"]
    return {t["name"]: Result(t["name"], float(t["score"]), float(t["max_score"]),
                              t.get("output", "")) for t in tests if "max_score" in t}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("autograder", type=Path, help="dist/autograder/<key>")
    parser.add_argument("notebook", type=Path, help="the submitted notebook")
    args = parser.parse_args(argv)
    results = grade(args.autograder, args.notebook)
    for r in results.values():
        print(f"{r.name:<24} {r.score:g} / {r.points:g}")
    total = sum(r.score for r in results.values()), sum(r.points for r in results.values())
    print(f"{'total':<24} {total[0]:g} / {total[1]:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
