"""The Colab Setup cell fails loudly, and a course pins the code it clones (issue 21, part 1).

The Setup cell that ``make format`` (``tools/notebooks.py``) writes is run for
real: its Colab branch, in a fresh Python with a stand-in ``google.colab``
module, in a temporary working folder, against a repository that does not exist
and against a local bare repository with a tag. No network: ``file://`` URLs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import notebooks as fmt

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "05_training.ipynb"  # installs nothing on Colab: its Setup cell has no %pip line
COLAB = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
GIT_ENV = {"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})


def run_setup_cell(url: str, ref: str, content: Path, monkeypatch) -> subprocess.CompletedProcess:
    """Run the generated Setup cell for ``url`` at ``ref`` as Colab would, in ``content``."""
    monkeypatch.setattr(fmt, "REPO_URL", url)
    monkeypatch.setattr(fmt, "REPO_REF", ref)
    cell = fmt.setup_cell(NOTEBOOK)
    assert "%pip" not in cell and "!git" not in cell  # plain Python: it runs here as on Colab
    content.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-c", COLAB + cell], cwd=content, text=True,
                          capture_output=True, env={**os.environ, **GIT_ENV}, timeout=120)


@pytest.fixture
def course(tmp_path) -> str:
    """A bare repository: ``marker.txt`` says "tagged" at tag course-2027, "head" on main."""
    work, bare = tmp_path / "work", tmp_path / "course.git"
    work.mkdir()
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("init", "-q", "-b", "main", cwd=work)
    (work / "marker.txt").write_text("tagged\n")
    git("add", "marker.txt", cwd=work)
    git("commit", "-q", "-m", "the course's version", cwd=work)
    git("tag", "course-2027", cwd=work)
    (work / "marker.txt").write_text("head\n")
    git("commit", "-q", "-am", "later work on main", cwd=work)
    git("push", "-q", "--tags", str(bare), "main", cwd=work)
    return bare.as_uri()


def test_a_clone_that_fails_stops_the_cell_and_says_what_to_do(tmp_path, monkeypatch):
    missing = (tmp_path / "no-such-repo.git").as_uri()
    done = run_setup_cell(missing, "main", tmp_path / "content", monkeypatch)
    assert done.returncode != 0, "a failed clone must stop the notebook at the Setup cell"
    error = done.stderr
    assert "RuntimeError: Could not clone " + missing + " at main" in error
    assert "fatal:" in error  # git's own words
    assert "REPO_URL" in error and "helpers/runtime.py" in error and "make format" in error
    assert "python -m tools.notebooks" in error and "private fork" in error
    assert "No module named 'helpers'" not in error
    assert not (tmp_path / "content" / "no-such-repo").exists()


def test_the_clone_gets_the_pinned_tag_not_mains_head(course, tmp_path, monkeypatch):
    content = tmp_path / "content"
    done = run_setup_cell(course, "course-2027", content, monkeypatch)
    assert done.returncode == 0, done.stderr
    assert (content / "course" / "marker.txt").read_text() == "tagged\n"

    done = run_setup_cell(course, "main", tmp_path / "other", monkeypatch)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "other" / "course" / "marker.txt").read_text() == "head\n"


def test_a_second_run_finds_the_folder_and_clones_nothing(course, tmp_path, monkeypatch):
    content = tmp_path / "content"
    assert run_setup_cell(course, "course-2027", content, monkeypatch).returncode == 0
    shutil.rmtree(Path(course.removeprefix("file://")))  # a second clone would now fail
    done = run_setup_cell(course, "course-2027", content, monkeypatch)
    assert done.returncode == 0, done.stderr
    assert (content / "course" / "marker.txt").read_text() == "tagged\n"


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """The notebooks, README and helpers/runtime.py in a temporary folder; REPO_REF restored."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "helpers").mkdir()
    shutil.copy(ROOT / "helpers" / "runtime.py", tmp_path / "helpers" / "runtime.py")
    monkeypatch.setattr(fmt, "REPO_REF", "main")  # the committed default, put back afterwards
    return tmp_path


def test_ref_pins_runtime_badges_setup_cells_and_readme_together(copy, monkeypatch):
    notebooks = sorted((copy / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    changed = fmt.run(copy, ref="course-2027")
    assert sorted(changed) == sorted(["README.md", *(f"notebooks/{p.name}" for p in notebooks)])
    assert 'REPO_REF = "course-2027"' in (copy / "helpers" / "runtime.py").read_text()
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        first = "".join(cells[0]["source"])
        assert first.count(f"/blob/course-2027/notebooks/{path.name}") == 2  # both badges
        assert "/blob/main/" not in first
        setup = "".join(next(c for c in cells if fmt.SETUP_MARK in "".join(c["source"]))["source"])
        assert 'REPO_REF = "course-2027"' in setup and '"--branch", REPO_REF' in setup
    readme = (copy / "README.md").read_text()
    assert "/blob/main/notebooks/" not in readme
    assert readme.count("/blob/course-2027/notebooks/") >= len(notebooks)
    assert fmt.run(copy, check=True) == []  # --check compares with the REPO_REF now set


def test_check_flags_notebooks_pinned_to_another_ref(copy, monkeypatch):
    fmt.run(copy, ref="course-2027")
    monkeypatch.setattr(fmt, "REPO_REF", "main")  # helpers/runtime.py says main again
    flagged = fmt.run(copy, check=True)
    assert "README.md" in flagged
    assert len(flagged) == 1 + len(list((copy / "notebooks").glob("[0-9][0-9]_*.ipynb")))


def test_a_ref_that_is_no_git_name_is_refused_before_anything_changes(copy, capsys):
    before = (copy / "helpers" / "runtime.py").read_text()
    for bad in ["course 2027", 'x"; import os', "../main", ""]:
        with pytest.raises(ValueError, match="not a git branch or tag name"):
            fmt.run(copy, ref=bad)
    assert (copy / "helpers" / "runtime.py").read_text() == before
    with pytest.raises(SystemExit):
        fmt.main(["--check", "--ref", "course-2027"])  # --check compares; it never rewrites
    assert "not allowed with" in capsys.readouterr().err
