"""``python -m course.build`` (``make assignments``): the course's bundles, built by otter-grader.

From the series' notebooks and :data:`course.assignments.ASSIGNMENTS` it writes:

* ``dist/student/``: a repository to publish for students. Notebooks 04, 05, 06 and 08
  with a TODO in place of each graded function, each followed by ``grader.check(name)``;
  the other notebooks as they are; ``helpers`` without the graded answers (where helpers
  needs one, it calls the student's own); no ``solutions/``, no tests, no instructor pages.
* ``dist/autograder/<key>/``: otter's autograder for each assignment (the zip for
  Gradescope or ``otter run``), with the hidden checks.
* ``dist/instructor/``: the solution notebooks, the exercise solutions, the course plan, the
  concept questions' answers and the guide.

The student bundle is checked last: no answer fingerprint may be found in it.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from course.assignments import ASSIGNMENTS, BY_KEY, QUESTIONS, Assignment, Question
from helpers.runtime import REPO_REF, REPO_URL
from tools.notebooks import repository

ROOT = Path(__file__).resolve().parents[1]
COURSE = Path(__file__).resolve().parent
MARK = ".made-by-make-assignments"
"""A file in ``dist/`` saying this tool made it: only such a folder is ever emptied."""

OTTER = "otter-grader>=7,<8"
"""The otter-grader the course is tested with (pyproject.toml's [course] extra)."""

SERIES_URL = REPO_URL
"""The series' repository (a fork's own, once ``make format`` wrote it into helpers.runtime):
what the student bundle's addresses are rewritten from."""
STUDENT_URL = "https://github.com/caption-tutorial/vgg16-lstm-captioning-student"

STUDENT_FILES = ("LICENSE", "Makefile", "pyproject.toml", "requirements.txt", "constraints.txt",
                 "environment.yml", ".gitignore", "data/README.md", "docs")
"""What the student bundle takes from the repository, besides helpers/ and notebooks/."""

INSTRUCTOR_ONLY = ("docs/instructor_guide.md", "docs/course.md")
"""Pages that stay out of the student bundle (they say where the answers are)."""

INSTRUCTOR_FILES = ("solutions", "docs/instructor_guide.md", "docs/course.md",
                    "docs/concept_questions.md")  # and course/, the answers included

SOLUTION_MARKERS = re.compile(
    r'^\s*(# (BEGIN|END) SOLUTION( NO PROMPT)?|""" # (BEGIN|END) PROMPT)\s*$')


# ---------------------------------------------------------------- the master notebook

def _cell(kind: str, text: str, tags: tuple[str, ...] = ()) -> dict:
    cell = {"cell_type": kind, "metadata": {"tags": list(tags)} if tags else {},
            "source": text.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def todo_message(assignment: Assignment, question: Question) -> str:
    """What an unanswered TODO raises: the question, its points and the hint."""
    return (f"TODO {question.name} (assignment {assignment.number}, {question.points} points): "
            f"{question.hint} Then run grader.check({question.name!r}) below.")


def stub_body(function: ast.FunctionDef, lines: list[str], message: str) -> list[str]:
    """``lines`` of a cell with ``function``'s body (after its docstring) marked for otter:
    the solution is kept out of the student's copy, a ``raise NotImplementedError`` put in."""
    body = function.body
    if isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                    ast.Constant):
        body = body[1:]  # the docstring stays: it says what to write
    first, last = body[0].lineno - 1, function.end_lineno
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
    wrapped = textwrap.wrap(message, 88 - len(indent))
    raise_lines = [f"{indent}raise NotImplementedError(\n"] + [
        f"{indent}    {json.dumps(part + (' ' if i < len(wrapped) - 1 else ''))}\n"
        for i, part in enumerate(wrapped)] + [f"{indent})\n"]
    return (lines[:first] + [f"{indent}# BEGIN SOLUTION NO PROMPT\n"] + lines[first:last]
            + [f"{indent}# END SOLUTION\n", f'{indent}""" # BEGIN PROMPT\n'] + raise_lines
            + [f'{indent}""" # END PROMPT\n'] + lines[last:])


def split_graded_cell(source: str, name: str) -> tuple[str, str]:
    """A cell that defines ``name`` and then uses it: (the definition, the rest)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    end = max(node.end_lineno for node in tree.body
              if isinstance(node, ast.FunctionDef) and node.name == name)
    return "".join(lines[:end]).rstrip() + "\n", "".join(lines[end:]).strip("\n")


def question_cells(assignment: Assignment, question: Question, definition: str) -> list[dict]:
    """A graded function as otter's format has it: prompt, solution, tests."""
    tree = ast.parse(definition)
    function = next(node for node in tree.body
                    if isinstance(node, ast.FunctionDef) and node.name == question.name)
    solution = stub_body(function, definition.splitlines(keepends=True),
                         todo_message(assignment, question))
    hidden = ('""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\n'
              f"import hidden_checks\n\nhidden_checks.{question.name}({question.name})")
    return [
        _cell("raw", f"# BEGIN QUESTION\nname: {question.name}\npoints: {question.points}\n"
                     "all_or_nothing: true"),  # the rubric: every check passes, or none count
        _cell("markdown", f"**TODO · `{question.name}` ({question.points} points).** Replace "
                          f"the `raise NotImplementedError` in the cell below with your code, "
                          f"then run the check under it.\n\n*Hint:* {question.hint}"),
        _cell("raw", "# BEGIN SOLUTION"),
        _cell("code", "".join(solution).rstrip("\n")),
        _cell("raw", "# END SOLUTION"),
        _cell("raw", "# BEGIN TESTS"),
        _cell("code", f"import public_checks\n\npublic_checks.{question.name}({question.name})"),
        _cell("code", hidden),
        _cell("raw", "# END TESTS"),
        _cell("raw", "# END QUESTION"),
    ]


def _config(assignment: Assignment) -> str:
    return "\n".join([
        "# ASSIGNMENT CONFIG",
        f"name: {assignment.key}-{Path(assignment.notebook).stem}",
        "init_cell: false",
        "check_all_cell: false",  # one tests/ folder serves all four
        "export_cell: false",
        "run_tests: false",
        "solutions_pdf: false",
        "template_pdf: false",
        "python_version: \"3.11\"",
        "requirements: requirements.txt  # the series, for Gradescope's image",
        "files:",
        "  - public_checks.py",
        "autograder_files:",
        "  - hidden_checks.py",
        "tests:",
        "  files: true",
    ])


INIT_CELL = """import otter  # the course's checks: grader.check(name) under each TODO

import helpers

CHECKS = Path(helpers.__file__).resolve().parents[1] / "notebooks"  # public_checks.py, tests/
sys.path.insert(0, str(CHECKS))
grader = otter.Notebook("{notebook}", tests_dir=str(CHECKS / "tests"))"""


def about(assignment: Assignment) -> str:
    rows = "\n".join(f"| `{q.name}` | {q.points} |" for q in assignment.questions)
    return f"""## Assignment {assignment.number}: {assignment.title}

This is the notebook of the series with the code the course grades taken out. Where a
function is yours to write, its cell keeps the signature and the docstring and raises
`NotImplementedError` with a hint; replace that line with your code. The check under it,
`grader.check(...)`, runs on small cases and says what is wrong. Until a TODO is
answered, the notebook stops at the first step that needs it, naming it.

| graded function | points |
| --- | --- |
{rows}
| open questions at the end (graded by hand: the course's rubric) | {assignment.points_by_hand} |

The autograder runs these checks and others on cases you have not seen: pass the task,
not the checks. Hand in this notebook (`.ipynb`), run from top to bottom."""


def open_questions(assignment: Assignment) -> list[dict]:
    items = "\n".join(f"{i}. {text}" for i, text in enumerate(assignment.open_questions, 1))
    return [_cell("markdown", f"## Open questions (graded by hand)\n\n{items}"),
            _cell("markdown", "*Your answers (a few sentences each):*\n\n1. \n2. ")]


def master_notebook(assignment: Assignment) -> dict:
    """The otter master notebook of ``assignment``: the series notebook, its graded
    functions turned into questions, every heavy cell kept out of grading."""
    nb = json.loads((ROOT / "notebooks" / assignment.notebook).read_text(encoding="utf-8"))
    graded = {q.name: q for q in assignment.questions}
    cells: list[dict] = [_cell("raw", _config(assignment))]
    found: set[str] = set()
    setup_seen = 0
    for cell in nb["cells"]:
        source = _source(cell)
        if cell["cell_type"] != "code":
            if source.startswith("## Summary"):
                cells += open_questions(assignment)
            cells.append(cell)
            if source.startswith("# "):  # the title
                cells.append(_cell("markdown", about(assignment)))
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if setup_seen < 2 and "parameters" not in tags:  # Setup: run when grading too
            setup_seen += 1
            cells.append(cell)
            if setup_seen == 2:
                cells.append(_cell("code", INIT_CELL.format(notebook=assignment.notebook)))
            continue
        if "parameters" in tags:
            cells.append(cell)
            continue
        names = [node.name for node in ast.parse(source).body
                 if isinstance(node, ast.FunctionDef) and node.name in graded]
        if not names:
            cells.append({**cell, "metadata": {"tags": [*tags, "otter_ignore"]}})
            continue
        (name,) = names
        found.add(name)
        definition, rest = split_graded_cell(source, name)
        cells += question_cells(assignment, graded[name], definition)
        if rest:
            cells.append(_cell("code", rest, ("otter_ignore",)))
    missing = set(graded) - found
    if missing:
        raise LookupError(f"notebooks/{assignment.notebook} no longer defines "
                          f"{', '.join(sorted(missing))}: update course/assignments.py")
    return {**nb, "cells": cells, "metadata": {
        **nb["metadata"], "kernelspec": {"name": "python3", "display_name": "Python 3",
                                         "language": "python"}}}


def grading_requirements() -> str:
    """What an autograder installs (Gradescope; ``otter run`` uses this environment): the
    series' requirements, and the series itself, with its answers, from the instructor's
    repository (``helpers.runtime.REPO_URL``, a private one needs a token in it)."""
    runtime = (ROOT / "requirements.txt").read_text(encoding="utf-8").split(
        "# Notebooks and their tests")[0]  # the packages the notebooks import, not the tools
    lines = [line.split("#")[0].strip() for line in runtime.splitlines()]
    return "\n".join([*(line for line in lines if line), OTTER,
                      f"caption-helpers @ git+{REPO_URL}@{REPO_REF}", ""])


def otter_assign(assignment: Assignment, work: Path) -> Path:
    """Run otter assign on the master notebook; returns its output folder."""
    folder = work / assignment.key
    folder.mkdir(parents=True)
    master = folder / "master" / assignment.notebook
    master.parent.mkdir()
    master.write_text(json.dumps(master_notebook(assignment), indent=1), encoding="utf-8")
    for name in ("public_checks.py", "hidden_checks.py"):
        shutil.copy(COURSE / name, master.parent / name)
    (master.parent / "requirements.txt").write_text(grading_requirements(), encoding="utf-8")
    out = folder / "otter"
    done = subprocess.run([sys.executable, "-m", "otter", "assign", "--no-pdfs", str(master),
                           str(out)], capture_output=True, text=True, cwd=master.parent)
    if done.returncode != 0:
        raise RuntimeError(f"otter assign failed on {assignment.notebook}:\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return out


# ---------------------------------------------------------------- the bundles

def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(source, target)


def replace_function_body(text: str, name: str, call: str, docstring: str) -> str:
    """``text`` (a module) with function ``name``'s body replaced by ``return call``."""
    tree = ast.parse(text)
    function = next(node for node in tree.body
                    if isinstance(node, ast.FunctionDef) and node.name == name)
    lines = text.splitlines(keepends=True)
    first = function.body[0].lineno - 1
    body = (f'    """{docstring}"""\n'
            "    from helpers.answers import student_answer\n\n"
            f"    return {call}\n")
    return "".join(lines[:first]) + body + "".join(lines[function.end_lineno:])


def stand_ins(helpers_dir: Path) -> None:
    """The student bundle's helpers: each graded answer helpers held becomes a stand-in."""
    for assignment in ASSIGNMENTS:
        for question in assignment.questions:
            if question.stand_in is None:
                continue
            module, function, call = question.stand_in
            path = helpers_dir.parent / module
            path.write_text(replace_function_body(
                path.read_text(encoding="utf-8"), function, call,
                f"Yours to write: assignment {assignment.number}, ``{question.name}`` in "
                f"notebooks/"
                f"{assignment.notebook}; this calls your own."), encoding="utf-8")


def _retarget(text: str, url: str, ref: str) -> str:
    """The series' repository address, name and branch, made the student bundle's."""
    old_slug, _ = repository()
    new_slug = url.removeprefix("https://github.com/").strip("/")
    text = text.replace(f'REPO_REF = "{REPO_REF}"', f'REPO_REF = "{ref}"')
    for old, mark in ((f"{old_slug}/blob/{REPO_REF}/", "\0blob\0"), (old_slug, "\0slug\0"),
                      (old_slug.split("/")[1], "\0name\0")):
        text = text.replace(old, mark)
    for mark, new in (("\0blob\0", f"{new_slug}/blob/{ref}/"), ("\0slug\0", new_slug),
                      ("\0name\0", new_slug.split("/")[1])):
        text = text.replace(mark, new)
    return text


def student_setup(source: str) -> str:
    """The Setup cell, plus otter on Colab (the checks need it; Colab lacks it)."""
    return source.rstrip("\n") + f'\n\nif IN_COLAB:\n    %pip install -q "{OTTER}"'


STUDENT_README = """# Image captioning, the course's student version

The notebooks of the series (VGG16 + LSTM image captioning, {series}), with the code the
course grades left for you to write. Notebooks 04, 05, 06 and 08 are the assignments:
each TODO says what to write, and the check under it says what is wrong.

Start: `python -m venv .venv && .venv/bin/pip install -r requirements.txt -e .`, then
`.venv/bin/jupyter lab` from this folder and open `notebooks/`. On Colab open a notebook
from this repository: its Setup cell clones it and installs what Colab lacks. There, keep
your own copies in Drive (*File > Save a copy in Drive*): notebook 05 trains the model you
wrote in notebook 04, and looks for it there.

Your answers are yours: later notebooks call them (`helpers.answers`), and an unanswered
TODO stops a later step with a message naming it. Hand in the notebooks your course asks
for (`.ipynb`), run from top to bottom.

`make setup` and `make tutorial` work here too (the tutorial stops at the first TODO
left). The series' README, tests and benchmarks are in the series' own repository.
"""


def student_bundle(out: Path, assigned: dict[str, Path], url: str, ref: str) -> None:
    for name in STUDENT_FILES:
        if (ROOT / name).exists():
            _copy(ROOT / name, out / name)
    for name in INSTRUCTOR_ONLY:
        (out / name).unlink(missing_ok=True)
    _copy(ROOT / "helpers", out / "helpers")
    stand_ins(out / "helpers")
    notebooks = out / "notebooks"
    (notebooks / "tests").mkdir(parents=True)
    by_notebook = {BY_KEY[key].notebook: folder for key, folder in assigned.items()}
    graded = {a.notebook for a in ASSIGNMENTS}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        made = by_notebook.get(path.name)
        if made is None and path.name in graded:
            continue  # an assignment not built (--only): its notebook holds answers
        if made is None:
            shutil.copy2(path, notebooks / path.name)
            continue
        nb = json.loads((made / "student" / path.name).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if "IN_COLAB = " in _source(cell) and cell["cell_type"] == "code":
                cell["source"] = student_setup(_source(cell)).splitlines(keepends=True)
        (notebooks / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
        for test in (made / "student" / "tests").glob("*.py"):
            shutil.copy2(test, notebooks / "tests" / test.name)
        shutil.copy2(made / "student" / "public_checks.py", notebooks / "public_checks.py")
    requirements = out / "requirements.txt"
    requirements.write_text(requirements.read_text(encoding="utf-8")
                            + f"{OTTER:<25}# the checks under each TODO\n")
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".ipynb", ".md", ".toml", ".txt"}:
            text = path.read_text(encoding="utf-8")
            new = _retarget(text, url, ref)
            if new != text:
                path.write_text(new, encoding="utf-8")
    (out / "README.md").write_text(student_readme(), encoding="utf-8")  # names the series
    link_to_the_series(out)
    with (out / ".gitignore").open("a", encoding="utf-8") as ignore:
        ignore.write(".OTTER_LOG\n")  # what grader.check records beside a notebook


MARKDOWN_LINK = re.compile(r"\]\(([^)#\s:]+)(#[^)\s]*)?\)")


def link_to_the_series(out: Path) -> None:
    """A page's link to what the student bundle lacks (the instructor guide, the course plan)
    goes to that page in the series' public repository instead of nowhere."""
    for path in out.rglob("*.md"):
        text = path.read_text(encoding="utf-8")

        def online(match: re.Match, path: Path = path) -> str:
            target = (path.parent / match.group(1)).resolve()
            if target.exists():
                return match.group(0)
            where = target.relative_to(out.resolve()).as_posix()
            return f"]({SERIES_URL}/blob/{REPO_REF}/{where}{match.group(2) or ''})"

        new = MARKDOWN_LINK.sub(online, text)
        if new != text:
            path.write_text(new, encoding="utf-8")


def student_readme() -> str:
    """The student bundle's README, with the series' time table the notebooks link to."""
    series = (ROOT / "README.md").read_text(encoding="utf-8")
    start = series.index("## How long it takes")
    end = series.index("\n## ", start + 1)
    return STUDENT_README.format(series=SERIES_URL) + "\n" + series[start:end].rstrip() + "\n"


def clean_solution(nb: dict) -> dict:
    """An otter solution notebook without otter's solution and prompt markers."""
    cells = []
    for cell in nb["cells"]:
        lines, prompt = [], False
        for line in _source(cell).splitlines(keepends=True):
            if line.strip() == '""" # BEGIN PROMPT':
                prompt = True
            elif line.strip() == '""" # END PROMPT':
                prompt = False
            elif not prompt and not SOLUTION_MARKERS.match(line):
                lines.append(line)
        cells.append({**cell, "source": lines})
    return {**nb, "cells": cells}


def instructor_bundle(out: Path, assigned: dict[str, Path]) -> None:
    for name in INSTRUCTOR_FILES:
        if (ROOT / name).exists():
            _copy(ROOT / name, out / name)
    for key, made in assigned.items():
        notebook = BY_KEY[key].notebook
        nb = json.loads((made / "autograder" / notebook).read_text(encoding="utf-8"))
        target = out / "assignments" / f"{key}_solution_{notebook}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(clean_solution(nb), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    _copy(COURSE, out / "course")


def autograder_bundle(out: Path, assigned: dict[str, Path]) -> None:
    for key, made in assigned.items():
        _copy(made / "autograder", out / key)


# ---------------------------------------------------------------- checks and the CLI

def _texts(folder: Path):
    """(path, text) of every text file in ``folder``; a notebook as its cells' sources."""
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix in {".png", ".jpg", ".zip", ".pyc"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":
            text = "\n".join(_source(c) for c in json.loads(text)["cells"])
        yield path, text


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def fingerprints_found(folder: Path) -> list[str]:
    """``path: question`` for every answer fingerprint found under ``folder`` (its code, less
    its comment, compared without any white space)."""
    prints = {name: _squeezed(q.fingerprint.split("  #")[0]) for name, q in QUESTIONS.items()}
    found = []
    for path, text in _texts(folder):
        squeezed = _squeezed(text)
        found += [f"{path.relative_to(folder)}: {name}" for name, line in prints.items()
                  if line in squeezed]
    return found


def empty_dist(out: Path) -> None:
    """Make ``out`` an empty folder, deleting only what this tool made."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARK).exists():
            raise FileExistsError(f"{out} is not empty and was not made by make assignments: "
                                  "give another folder (--out), or empty it yourself")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARK).write_text("made by `python -m course.build`; emptied when it runs again\n")


def build(out: Path, keys: list[str] | None = None, url: str = STUDENT_URL,
          ref: str = "main") -> dict[str, Path]:
    """Build the bundles into ``out``; returns where each one is."""
    chosen = [BY_KEY[k] for k in keys] if keys else list(ASSIGNMENTS)
    empty_dist(out)
    work = out / "work"
    assigned = {a.key: otter_assign(a, work) for a in chosen}
    bundles = {"student": out / "student", "autograder": out / "autograder",
               "instructor": out / "instructor"}
    student_bundle(bundles["student"], assigned, url, ref)
    autograder_bundle(bundles["autograder"], assigned)
    instructor_bundle(bundles["instructor"], assigned)
    shutil.rmtree(work)
    found = fingerprints_found(bundles["student"])
    if found:
        raise RuntimeError("graded answers found in the student bundle:\n  " + "\n  ".join(found))
    return bundles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--only", nargs="*", choices=sorted(BY_KEY), help="some assignments")
    parser.add_argument("--student-url", default=STUDENT_URL,
                        help="where the student bundle will be published (its Setup cells "
                             "clone it on Colab)")
    parser.add_argument("--student-ref", default="main", help="its branch or tag")
    args = parser.parse_args(argv)
    bundles = build(args.out, args.only, args.student_url, args.student_ref)
    for name, path in bundles.items():
        print(f"{name:>10}: {path}")
    print("No answer fingerprint in the student bundle.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
