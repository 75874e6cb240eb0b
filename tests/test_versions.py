"""The tested versions: requirements (ranges), constraints (exact pins) and pyproject agree."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# import names that differ from the package's name
IMPORT_TO_DIST = {"PIL": "pillow", "sklearn": "scikit-learn"}


def _requirements(path: Path) -> dict[str, Requirement]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {canonicalize_name(r.name): r for r in map(Requirement, filter(None, lines))}


def test_every_requirement_is_pinned_within_its_range():
    ranges = _requirements(ROOT / "requirements.txt")
    pins = _requirements(ROOT / "constraints.txt")
    for name, requirement in ranges.items():
        assert name in pins, f"constraints.txt has no pin for {name}"
        (spec,) = pins[name].specifier
        assert spec.operator == "==", f"constraints.txt: {pins[name]} is not an exact pin"
        assert requirement.specifier.contains(spec.version), (
            f"constraints.txt pins {pins[name]}, outside requirements.txt's {requirement}")


def test_floors_txt_pins_each_floor_of_pyproject():
    """`make test-floors` installs floors.txt: the lowest release each floor allows."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}
    pins = _requirements(ROOT / "floors.txt")
    assert set(pins) == set(floors), "floors.txt pins exactly the dependencies of pyproject.toml"
    for name, requirement in floors.items():
        (pin,) = pins[name].specifier
        (floor,) = [s for s in requirement.specifier if s.operator == ">="]
        assert pin.operator == "==" and requirement.specifier.contains(pin.version), (
            f"floors.txt: {pins[name]} is outside pyproject's {requirement}")
        # the lowest release of the floor's own series: 2.16 -> 2.16.x, 1.26 -> 1.26.x
        series = floor.version.split(".")
        assert pin.version.split(".")[:len(series)] == series, (
            f"floors.txt: {pins[name]} is not the floor {floor} of pyproject.toml")


def test_ruff_is_pinned_so_a_new_release_cannot_break_a_fresh_clone():
    (spec,) = _requirements(ROOT / "requirements.txt")["ruff"].specifier
    assert spec.operator == "=="


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _declared() -> set[str]:
    """What a bare ``pip install -e .`` installs (its direct dependencies)."""
    return {canonicalize_name(Requirement(d).name) for d in _pyproject()["dependencies"]}


def test_a_bare_install_brings_everything_the_check_requires():
    """After `pip install -e .` alone, `python -m helpers.check` finds every required package."""
    from helpers import check

    required = {canonicalize_name(name) for name in ("tensorflow", "keras", *check.PACKAGES)}
    missing = required - _declared()
    assert not missing, (f"helpers.check requires {sorted(missing)}, which pyproject.toml's "
                         "dependencies do not declare: add them there")


def test_requirements_txt_covers_pyproject_and_its_extras():
    """`make setup` (requirements.txt) installs all that pyproject.toml and its extras name,
    but the course's autograder (the [course] extra, which `make test` adds): a learner's
    install does without it. Every one of them is tested at a version in its range."""
    project = _pyproject()
    ranges = _requirements(ROOT / "requirements.txt")
    extras = project["optional-dependencies"]
    everything = [*project["dependencies"],
                  *(d for extra, lines in extras.items() for d in lines if extra != "course")]
    for line in everything:
        wanted = Requirement(line)
        name = canonicalize_name(wanted.name)
        assert name in ranges, f"pyproject.toml names {wanted}; requirements.txt lacks {name}"
    for line in everything + extras["course"]:
        wanted = Requirement(line)
        name = canonicalize_name(wanted.name)
        pin = _requirements(ROOT / "constraints.txt")[name]
        (spec,) = pin.specifier
        assert wanted.specifier.contains(spec.version), (
            f"the tested {pin} is outside pyproject.toml's {wanted}")
    assert set(extras) == {"notebooks", "test", "dev", "course"}
    assert not any("otter" in name for name in ranges), "the autograder is not a learner's"


def test_the_license_the_package_declares_is_there():
    assert _pyproject()["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_pyproject_declares_what_helpers_imports():
    declared = _declared()
    imported = set()
    for path in (ROOT / "helpers").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    colab_only = {"google"}  # google.colab exists only on Colab, where it is always there
    third_party = imported - set(sys.stdlib_module_names) - {"helpers", "__future__"} - colab_only
    missing = {canonicalize_name(IMPORT_TO_DIST.get(m, m)) for m in third_party} - declared
    assert not missing, f"helpers imports {sorted(missing)}, which pyproject.toml does not declare"
