"""`helpers` is laid out as `helpers/__init__.py` says: the data's path, no circle, small rooms.

The package docstring lists the modules in order; a module may import only
modules listed above it. That keeps the layout a learner reads true as the
code grows: no circle, nothing importing a stage further down the data's path,
and inference (`helpers.caption`) free of training code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import helpers

HELPERS = Path(helpers.__file__).parent
ORDER = re.findall(r"^\s*\* :mod:`helpers\.(\w+)`", helpers.__doc__ or "", re.MULTILINE)
MAX_LINES = 400


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(helpers module imported, line, whether at module level) for each import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers."):
            found.append((node.module.split(".")[1], node.lineno, id(node) in top))
        elif isinstance(node, ast.ImportFrom) and node.module == "helpers":
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name.split(".")[1], node.lineno, id(node) in top)
                      for alias in node.names if alias.name.startswith("helpers.")]
    return found


def test_the_package_docstring_lists_every_module_once():
    modules = sorted(p.stem for p in HELPERS.glob("*.py") if p.stem != "__init__")
    assert sorted(ORDER) == modules, "helpers/__init__.py must list each module exactly once"


def test_each_module_imports_only_modules_listed_above_it_at_its_top():
    rank = {name: i for i, name in enumerate(ORDER)}
    wrong = []
    for name in ORDER:
        for imported, line, at_top in _imports(HELPERS / f"{name}.py"):
            where = f"helpers/{name}.py:{line} imports helpers.{imported}"
            if imported == name:
                continue  # a usage example in a docstring, say
            if rank.get(imported, len(ORDER)) >= rank[name]:
                wrong.append(f"{where}, listed below it")
            elif not at_top:
                wrong.append(f"{where} inside a function: import it at the top")
    assert not wrong, "\n".join(wrong)


def test_no_module_is_over_400_lines():
    long = {p.name: n for p in HELPERS.glob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules (at most {MAX_LINES} lines each): {long}"
