"""A function a notebook writes out, used from Python (notebooks 04-09 and the course).

The series shows the code a lesson is about in the lesson itself: the merge model in
notebook 04, the masked loss in 05, greedy decoding, a beam step and BLEU's clipped
precision in 06, the attention step and its penalty in 08. Two things need that notebook
code as a Python function:

* the tests that tie each notebook's code to ``helpers``, so the two cannot drift apart;
* the student bundle that ``make assignments`` builds (``docs/course.md``). Its copy of
  ``helpers`` holds no graded answer: where ``helpers`` itself needs one (the merge model
  that notebook 05 trains, the penalty the attention model of notebook 08 learns with), a
  stand-in calls the student's own function, from the notebook where the student wrote it.

No TensorFlow here: reading a notebook needs only the standard library.
"""

from __future__ import annotations

import ast
import inspect
import json
import linecache
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
"""The series' notebooks, next to this package."""

COLAB_NOTEBOOKS = Path("/content/drive/MyDrive/Colab Notebooks")
"""Where Colab keeps a notebook after *File > Save a copy in Drive*."""


def _code_cells(path: Path) -> list[str]:
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as error:
        raise FileNotFoundError(f"{path}: cannot read it as a notebook ({error})") from error
    return ["".join(c["source"]) for c in cells if c.get("cell_type") == "code"]


def _parse(source: str) -> ast.Module | None:
    """A cell as Python; None for a cell with IPython syntax (``%pip``, ``!ls``)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _kept(node: ast.stmt) -> bool:
    """An import, or a constant: an assignment that calls nothing (no data, no model)."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        return True
    return isinstance(node, ast.Assign) and not any(
        isinstance(part, ast.Call) for part in ast.walk(node.value))


def notebook_function(notebook: str | Path, name: str, namespace: dict | None = None,
                      folder: Path = NOTEBOOKS) -> Callable:
    """The function ``name`` as the code cell of ``notebook`` that defines it defines it.

    What it needs from earlier cells comes along: their imports, and their constants
    (``UNITS = 256``, ``UNITS = UNITS`` after an import) and their functions (a function may
    call a small one written earlier). Nothing else runs: no data is loaded, no model
    trained. ``namespace`` adds names.
    """
    path = Path(notebook) if Path(notebook).is_absolute() else folder / notebook
    cells = [(i, source, tree) for i, source in enumerate(_code_cells(path))
             if (tree := _parse(source)) is not None]
    where = next((k for k, (_, _, tree) in enumerate(cells) if any(
        isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)), None)
    if where is None:
        raise LookupError(f"{path}: no code cell defines {name}()")
    found: dict = {**(namespace or {})}
    for i, source, tree in cells[:where + 1]:
        # Tracebacks and inspect.getsource show the cell's lines, as in the notebook.
        filename = f"<{path.name}, code cell {i + 1}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        for node in tree.body:
            if not (_kept(node) or isinstance(node, ast.FunctionDef)):
                continue
            code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
            try:
                exec(code, found)
            except Exception:  # an import or value this machine lacks: what needs it fails
                if isinstance(node, ast.FunctionDef):
                    raise
    return found[name]


def _unanswered(function: Callable) -> bool:
    """Is ``function`` a TODO as the student bundle hands it out (its body one ``raise``)?"""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return False
    body = tree.body[0].body if tree.body and hasattr(tree.body[0], "body") else []
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return len(body) == 1 and isinstance(body[0], ast.Raise)


def _copies(notebook: str) -> list[Path]:
    """The student's copies of ``notebook``, the likeliest first: on Colab those in Drive
    (a copy saved there is named "Copy of 04_model.ipynb"), newest first; then the one in
    this bundle's ``notebooks/`` folder, where JupyterLab edits it."""
    found: list[Path] = []
    if COLAB_NOTEBOOKS.is_dir():
        found += sorted(COLAB_NOTEBOOKS.glob(f"*{notebook}"),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    return [*found, NOTEBOOKS / notebook]


def student_answer(notebook: str, name: str) -> Callable:
    """The student's own ``name``, written in ``notebook`` (student bundle, ``make assignments``).

    Looked for first in the notebook running now (a function defined in a cell above), then
    in the student's copies of ``notebook`` (:func:`_copies`), skipping a copy whose TODO is
    still unanswered. If every copy's is, that TODO is returned: called, it raises its own
    ``NotImplementedError``, which names the question.
    """
    main = sys.modules.get("__main__")
    here = getattr(main, name, None)
    if callable(here) and getattr(here, "__module__", None) == "__main__":
        return here
    todo = None
    for path in _copies(notebook):
        try:
            function = notebook_function(path, name)
        except (LookupError, FileNotFoundError):  # no such copy, or no such function in it
            continue
        if not _unanswered(function):
            return function
        todo = todo or function
    if todo is not None:
        return todo
    raise NotImplementedError(
        f"{name}() is yours to write, in notebooks/{notebook}, and this step uses it. Open "
        f"that notebook, answer its TODO {name}, and run this cell again. On Colab, save "
        f"your copy of it in Drive (File > Save a copy in Drive) and let this notebook use "
        f"Drive (USE_DRIVE = True): it is looked for in {COLAB_NOTEBOOKS}.")


def names_used(function: Callable) -> set[str]:
    """Every name and attribute ``function``'s source mentions (a course's check that an
    answer is the student's own code, not a call of the library version it replaces)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return ({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
            | {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
            | {alias.name.split(".")[-1] for node in ast.walk(tree)
               if isinstance(node, ast.Import | ast.ImportFrom) for alias in node.names}
            | {node.module.split(".")[-1] for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.module}
            | {node.arg for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg})
