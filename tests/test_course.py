"""The course's assignments (``make assignments``, ``docs/course.md``): built, graded, answer-free.

``make test`` builds and grades assignment 2 (the masked loss): the reference solution gets
full marks, the untouched student notebook zero (and the grader does not crash), a typical
mistake fails exactly its question with feedback naming it. ``make test-assignments``
(``COURSE_ASSIGNMENTS=all``) does it for every assignment, and also runs each student
notebook, from a fresh clone of the student bundle, with the TODOs filled by the reference
answers: every public check must pass there.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from course import build as course_build
from course.assignments import ASSIGNMENTS, BY_KEY, OPEN_QUESTION_POINTS, Assignment
from course.grade import grade
from helpers.settings import QUICK_VARIABLE

try:
    import otter  # noqa: F401
except ModuleNotFoundError:  # pragma: no cover - a learner's install without the extra
    pytest.fail("otter-grader is missing: `make test` installs the [course] extra "
                "(pip install -e '.[course]')", pytrace=False)

ROOT = Path(__file__).resolve().parents[1]
CHOSEN = os.environ.get("COURSE_ASSIGNMENTS", "a2")
KEYS = sorted(BY_KEY) if CHOSEN == "all" else CHOSEN.split(",")
GRADING_ENV = {**os.environ, "CAPTION_SETTINGS_FILE": "none", "CAPTION_DATASET": "shapes"}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    return course_build.build(tmp_path_factory.mktemp("dist") / "dist", KEYS)


def solution(bundles, assignment: Assignment) -> dict:
    name = f"{assignment.key}_solution_{assignment.notebook}"
    path = bundles["instructor"] / "assignments" / name
    return json.loads(path.read_text())


def mistaken(bundles, assignment: Assignment, question) -> dict:
    """The reference solution with ``question``'s typical mistake made in it."""
    nb = solution(bundles, assignment)
    changed = 0
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if question.mistake.line in source:
            cell["source"] = source.replace(question.mistake.line, question.mistake.wrong)
            changed += 1
    assert changed == 1, f"the mistake of {question.name} no longer applies"
    return nb


@pytest.fixture(scope="module")
def grades(bundles, stand_in, tmp_path_factory) -> dict[tuple[str, str], dict]:
    """Every submission of the chosen assignments, graded: (key, which) -> results. Three at
    a time (and beside the stand-in's process): each grading is a process of its own, much of
    it waiting on a kernel's start."""
    submissions = {}
    for key in KEYS:
        assignment = BY_KEY[key]
        student = json.loads((bundles["student"] / "notebooks" / assignment.notebook)
                             .read_text())
        submissions[key, "reference"] = solution(bundles, assignment)
        submissions[key, "untouched"] = student
        for question in assignment.questions:
            submissions[key, question.name] = mistaken(bundles, assignment, question)
    folder = tmp_path_factory.mktemp("submissions")

    def run(item):
        (key, which), nb = item
        path = folder / f"{key}-{which}" / BY_KEY[key].notebook
        path.parent.mkdir()
        path.write_text(json.dumps(nb))
        return (key, which), grade(bundles["autograder"] / key, path, env=GRADING_ENV)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(run, submissions.items()))


def test_student_bundle_holds_no_graded_answer(bundles):
    student = bundles["student"]
    assert course_build.fingerprints_found(student) == []
    for absent in ("solutions", "tests", "course", "docs/instructor_guide.md", "docs/course.md",
                   "benchmarks"):
        assert not (student / absent).exists(), f"{absent} must not ship to students"
    models = (student / "helpers" / "models.py").read_text()
    assert 'student_answer("04_model.ipynb", "build_merge_model")' in models
    assert 'student_answer("08_attention.ipynb", "coverage_penalty")' in models
    for page in student.rglob("*.md"):  # no link leads nowhere
        for target, _ in course_build.MARKDOWN_LINK.findall(page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
    assert ".OTTER_LOG" in (student / ".gitignore").read_text()
    runtime = (student / "helpers" / "runtime.py").read_text()
    assert course_build.STUDENT_URL in runtime and course_build.SERIES_URL + '"' not in runtime
    for key in KEYS:
        nb = json.loads((student / "notebooks" / BY_KEY[key].notebook).read_text())
        setup = next("".join(c["source"]) for c in nb["cells"] if "IN_COLAB = " in
                     "".join(c["source"]))
        assert course_build.STUDENT_URL in setup
        assert f'%pip install -q "{course_build.OTTER}"' in setup


@pytest.mark.parametrize("key", KEYS)
def test_reference_solution_gets_full_marks(grades, key):
    results = grades[key, "reference"]
    assert set(results) == {q.name for q in BY_KEY[key].questions}
    for result in results.values():
        assert result.score == result.points > 0, result.feedback[-2000:]


@pytest.mark.parametrize("key", KEYS)
def test_untouched_student_notebook_gets_zero_and_names_the_todo(grades, key):
    assignment = BY_KEY[key]
    results = grades[key, "untouched"]
    assert set(results) == {q.name for q in assignment.questions}
    for question in assignment.questions:
        result = results[question.name]
        assert result.score == 0 and result.points == question.points
        assert f"TODO {question.name}" in result.feedback  # the hint, not a crash


@pytest.mark.parametrize("key", KEYS)
def test_typical_mistake_fails_exactly_its_question_and_says_why(grades, key):
    assignment = BY_KEY[key]
    for question in assignment.questions:
        results = grades[key, question.name]
        for other in assignment.questions:
            result = results[other.name]
            if other is question:
                assert result.score == 0, f"{question.mistake.what}: not caught"
                assert question.mistake.says.lower() in result.feedback.lower(), (
                    f"{question.mistake.what}: the feedback does not say so:\n"
                    f"{result.feedback[-1500:]}")
            else:
                assert result.score == result.points, f"{other.name} lost marks for another's"


@pytest.fixture(scope="module")
def stand_in(bundles, tmp_path_factory) -> subprocess.Popen:
    """A process in the student bundle that calls helpers.models.build_caption_model, as
    notebook 05 does, first with notebook 04's TODO unanswered, then answered. Started at
    once, so that it runs beside the gradings; test_student_helpers_... reads what it says."""
    from otter.assign.solutions import replace_solutions

    tmp_path = tmp_path_factory.mktemp("stand-in")
    student = tmp_path / "student"
    shutil.copytree(bundles["student"], student)
    series = json.loads((ROOT / "notebooks" / "04_model.ipynb").read_text())
    (tmp_path / "answered.ipynb").write_text(json.dumps(series))
    unanswered = json.loads(json.dumps(series))
    for cell in unanswered["cells"]:
        source = "".join(cell["source"])
        if "def build_merge_model(" in source:
            definition, _ = course_build.split_graded_cell(source, "build_merge_model")
            tree = ast.parse(definition)
            function = next(n for n in tree.body if getattr(n, "name", "") == "build_merge_model")
            marked = course_build.stub_body(function, definition.splitlines(keepends=True),
                                            "TODO build_merge_model: hint")
            cell["source"] = replace_solutions(marked, "python")  # as otter assign does
    notebook = student / "notebooks" / "04_model.ipynb"
    notebook.write_text(json.dumps(unanswered))
    code = f"""
from pathlib import Path
from helpers.models import build_caption_model
try:
    build_caption_model(30, feature_dim=8)
except NotImplementedError as error:
    print("unanswered:", error)
Path({str(notebook)!r}).write_text(Path({str(tmp_path / "answered.ipynb")!r}).read_text())
print("answered:", build_caption_model(30, feature_dim=8).count_params())
"""
    env = {**GRADING_ENV, "PYTHONPATH": str(student), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=student)
    yield process
    process.kill()


def test_student_helpers_call_the_students_own_model(stand_in):
    """Notebook 05 trains with the model the student wrote in notebook 04: unanswered, it
    stops naming the TODO; answered, helpers builds the student's model."""
    out, err = stand_in.communicate(timeout=300)
    assert stand_in.returncode == 0, err[-1500:]
    assert "unanswered: TODO build_merge_model: hint" in out
    from helpers.models import build_caption_model

    expected = build_caption_model(30, feature_dim=8).count_params()
    assert f"answered: {expected}" in out


@pytest.mark.skipif(CHOSEN != "all", reason="make test-assignments: every notebook, trained")
def test_fresh_clone_of_student_bundle_passes_its_checks_with_the_reference_answers(
        bundles, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    source = bundles["student"]
    subprocess.run(["git", "init", "-q"], cwd=source, check=True)
    subprocess.run(["git", "add", "-A"], cwd=source, check=True)
    subprocess.run(["git", "-c", "user.name=course", "-c", "user.email=course@example.org",
                    "commit", "-qm", "student bundle"], cwd=source, check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(source), str(clone)], check=True)
    # As a student runs it: the series' defaults (the tutorial's world, its encoder and
    # epochs), the clone's own data and run folders; none of the tests' small settings.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CAPTION_") and key != QUICK_VARIABLE}
    env.update(CAPTION_DATASET="shapes", CAPTION_SETTINGS_FILE="none", PYTHONPATH=str(clone))
    for assignment in ASSIGNMENTS:  # in order: 05 trains the model 04's answer builds
        path = clone / "notebooks" / assignment.notebook
        nb = nbformat.read(path, as_version=4)
        answers = [c for c in solution(bundles, assignment)["cells"]
                   if "otter_assign_solution_cell" in c.get("metadata", {}).get("tags", [])]
        todos = [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
        assert len(answers) == len(todos) == len(assignment.questions)
        for todo, answer in zip(todos, answers):
            todo.source = "".join(answer["source"])
        names = [q.name for q in assignment.questions]
        nb.cells.append(nbformat.v4.new_code_cell(
            f"assert all(grader.check(q).grade == 1 for q in {names!r})\n"
            f"assert Path(helpers.__file__).is_relative_to({str(clone)!r})\n"
            f"assert settings.data_dir.is_relative_to({str(clone)!r})\n"
            "print('data:', sorted(p.name for p in settings.data_dir.iterdir()))"))
        nbformat.write(nb, path)
        start = time.monotonic()
        old = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            done = NotebookClient(nb, timeout=1800, kernel_name="python3",
                                  resources={"metadata": {"path": str(path.parent)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
        said = "".join(o.get("text", "") for o in done.cells[-1].outputs)
        print(f"{assignment.notebook}: {time.monotonic() - start:.0f} s in a fresh clone; {said}")


def test_the_course_plan_states_the_points_the_assignments_give():
    plan = (ROOT / "docs" / "course.md").read_text()
    for assignment in ASSIGNMENTS:
        row = next(line for line in plan.splitlines()
                   if line.startswith(f"| {assignment.number} {assignment.title} |"))
        for question in assignment.questions:
            assert f"`{question.name}` ({question.points})" in row
        count, total = len(assignment.open_questions), assignment.points + assignment.points_by_hand
        assert row.endswith(f"| {count} × {OPEN_QUESTION_POINTS} | {total} |")
