"""Check the series' prose against its two writing rules: ``python -m tools.prose``.

The rules are written out in ``docs/writing.md``; in short:

1. **Numbers.** A number that a run produces is printed by a code cell, and the
   prose points at the output. A number typed into a notebook's markdown, the
   README or ``docs/`` of the kinds that drift from machine to machine (a
   percentage, a metric value such as BLEU or CIDEr, a time, a speed, a speed-up
   such as ``2.6x``) carries a label that says what it is::

       (published: Xu et al. 2015, Table 1)
       (sweep: make sweep, 2-core x86_64, 2026-11-27)
       (measured: 2-core x86_64, no GPU, 2026-11-27)
       (estimate)            or (estimate: how it was reckoned)
       (setting: where it is set, e.g. `NOTEBOOK_08_FLOOR`)

   A label covers the paragraph, list item or table row it sits in; a table is
   covered by a label in its header row, and a table or a list by a label in
   the paragraph just above it.
   ``measured`` and ``sweep`` labels carry a date (YYYY-MM-DD). Code spans,
   math and link targets are not prose and are not scanned.

2. **Words before use.** Each term of :data:`TERMS` is defined at its first use
   in the series, reading the notebooks in order (a bold ``**term**`` where the
   text explains it, or a link to its entry in ``docs/glossary.md``); every
   notebook links the glossary near its top, and the glossary defines every term.

It needs only Python (no virtual environment). ``tests/test_prose.py`` runs both
checks on the repository, and shows that each catches a planted mistake.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = "docs/glossary.md"

LABEL_KINDS = ("published", "sweep", "measured", "estimate", "setting")
LABEL = re.compile(
    rf"\(({'|'.join(LABEL_KINDS)})\b([^()]*(?:\([^()]*\)[^()]*)*)\)", re.IGNORECASE)
"""A label: one of :data:`LABEL_KINDS` in parentheses, its details after it (one level of
parentheses allowed inside)."""
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")

_NUM = r"(?<![\w.])\d[\d,]*(?:\.\d+)?"
NUMBER_KINDS: dict[str, re.Pattern] = {
    "percentage": re.compile(rf"{_NUM}\s?%"),
    "time": re.compile(rf"{_NUM}\s?(?:ms|s|sec|seconds?|min|minutes?|h|hours?)\b"),
    "speed": re.compile(rf"{_NUM}\s?(?:images?|img|words?|captions?|steps?|tokens?)"
                        r"\s?(?:/\s?s\b|per second\b)"),
    "speed-up": re.compile(rf"{_NUM}(?:[x×](?![\w\d])|\s+times\b)"),
    "metric value": re.compile(r"(?<![\w.])\d+\.\d{2,}(?![\w.]*\d)"),
}
"""The kinds of number that differ from run to run and machine to machine."""

_NOT_PROSE = [
    re.compile(r"`[^`]*`"),                        # code spans: settings, code, file names
    re.compile(r"\$\$.*?\$\$|\$[^$]*\$"),          # math
    re.compile(r"\]\([^)]*\)"),                    # link and image targets
    re.compile(r"<[^>]+>"),                        # HTML tags
    re.compile(r"arXiv:\s?\d+\.\d+", re.I),        # paper identifiers
    re.compile(r"\b(?:Python|TensorFlow|Keras|numpy|NumPy|Pillow|version|v)\s?\d[\d.]*\+?"),
    re.compile(r"\b\d+\.\d+\+"),                    # version floors: 3.10+
]


@dataclass(frozen=True)
class Problem:
    """One breach of a rule: where, and what."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _units(text: str) -> list[tuple[int, list[str]]]:
    """Split markdown into the units a label covers: (first line number, lines).

    A unit is a paragraph, a list item, a heading or a table row; a table's rows
    are kept in order so :func:`unlabelled_numbers` can find their header.
    """
    units: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    fence = False

    def close() -> None:
        nonlocal current
        if current:
            units.append((start, current))
        current = []

    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            close()
            continue
        if fence:
            continue
        new_unit = (not line.strip() or line.lstrip().startswith(("#", "|"))
                    or re.match(r"\s*(?:[*+-]|\d+\.)\s", line))
        if new_unit:
            close()
        if line.strip():
            if not current:
                start = number
            current.append(line)
            if line.lstrip().startswith(("#", "|")):
                close()
    close()
    return units


def _prose(line: str) -> str:
    for pattern in _NOT_PROSE:
        line = pattern.sub(" ", line)
    return line


def label_problem(text: str) -> str | None:
    """Why the labels in ``text`` do not count (a measured or sweep label without a date)."""
    for match in LABEL.finditer(text):
        kind = match.group(1).lower()
        if kind in ("measured", "sweep") and not DATE.search(match.group(2)):
            return f"the label {match.group(0)!r} needs a date (YYYY-MM-DD)"
        if kind in ("published", "setting") and not match.group(2).strip(" :"):
            return f"the label {match.group(0)!r} needs its source after a colon"
    return None


def unlabelled_numbers(text: str, where: str) -> list[Problem]:
    """The numbers of :data:`NUMBER_KINDS` in markdown ``text`` that carry no label."""
    problems = []
    units = _units(text)
    intro_labelled = False   # the paragraph above a table or a list carries a label
    header_labelled = False  # the table's header row carries one
    previous_was_row = False
    for start, lines in units:
        joined = re.sub(r"`\([^`]*\)`", " ", " ".join(lines))  # a label shown as code is none
        first = lines[0].lstrip()
        is_row = first.startswith("|")
        is_item = bool(re.match(r"(?:[*+-]|\d+\.)\s", first))
        has_label = bool(LABEL.search(joined))
        if is_row and not previous_was_row:
            header_labelled = has_label
        elif not is_row and not is_item:
            intro_labelled = has_label and not first.startswith("#")
        previous_was_row = is_row
        bad_label = label_problem(joined)
        if bad_label:
            problems.append(Problem(f"{where}:{start}", bad_label))
        covered = (has_label or (is_row and header_labelled)
                   or ((is_row or is_item) and intro_labelled))
        if covered:
            continue
        prose = _prose(joined)
        for kind, pattern in NUMBER_KINDS.items():
            for match in pattern.finditer(prose):
                problems.append(Problem(
                    f"{where}:{start}",
                    f"{kind} {match.group(0).strip()!r} without a label: print it from the "
                    "run and refer to the output, or label it (published: ...), (sweep: ..., "
                    "date), (measured: machine, date), (estimate) or (setting: ...)"))
    return problems


def markdown_sources(root: Path = ROOT) -> list[tuple[str, str]]:
    """``(where, text)`` for every notebook markdown cell, the README, ``docs/`` and
    ``solutions/`` (the worked answers a learner reads)."""
    sources = []
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                sources.append((f"notebooks/{path.name} cell {index}, line",
                                "".join(cell["source"])))
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md")),
                 *sorted((root / "solutions").glob("*.md"))]:
        if path.exists():
            sources.append((str(path.relative_to(root)), path.read_text(encoding="utf-8")))
    return sources


def number_problems(root: Path = ROOT) -> list[Problem]:
    """Every unlabelled number in the repository's prose."""
    return [p for where, text in markdown_sources(root) for p in unlabelled_numbers(text, where)]


# --- words before use -------------------------------------------------------------

TERMS: dict[str, str] = {
    # term: a pattern that finds its use in prose (case-insensitive, whole words)
    "the original tutorial": r"the original tutorial",
    "VGG16": r"VGG16",
    "ImageNet": r"ImageNet",
    "encoder": r"encoders?",
    "decoder": r"decoders?",
    "shapes world": r"shapes world",
    "fc2": r"fc2",
    "grid": r"(?:conv(?:olutional)? )?grid",
    "shapes-vgg": r"shapes-vgg",
    "feature cache": r"feature cache",
    "vocabulary": r"vocabulary",
    "token": r"tokens?",
    "padding": r"padding|padded",
    "embedding": r"embeddings?",
    "dropout": r"dropout",
    "LSTM": r"LSTM",
    "merge model": r"merge (?:model|captioner|architecture)",
    "inject model": r"inject (?:model|architecture)",
    "teacher forcing": r"teacher forcing",
    "loss": r"(?:cross-entropy )?loss",
    "masked loss": r"masked loss",
    "epoch": r"epochs?",
    "validation loss": r"validation loss",
    "early stopping": r"early stopping",
    "checkpoint": r"checkpoints?",
    "greedy decoding": r"greedy(?: decoding| search)?",
    "beam search": r"beam(?: search)?",
    "BLEU": r"BLEU(?:-\d)?",
    "CIDEr": r"CIDEr",
    "METEOR": r"METEOR",
    "ROUGE-L": r"ROUGE-L",
    "blind baseline": r"blind (?:baseline|model)",
    "attention": r"(?:soft |visual )?attention",
    "attention map": r"attention maps?",
    "doubly stochastic penalty": r"doubly stochastic|coverage penalty",
    "model seed": r"model seed",
    "transformer": r"transformers?",
    "position embedding": r"position embeddings?",
    "self-attention": r"self-attention",
    "cross-attention": r"cross-attention",
}
"""The series' terms, each with the pattern that finds a use of it in the prose."""

_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def _term_pattern(term: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){TERMS[term]}(?![\w-])", re.IGNORECASE)


def _defines(text: str, term: str) -> bool:
    """Whether ``text`` defines ``term``: a bold use, or a link to its glossary entry."""
    pattern = _term_pattern(term)
    if any(pattern.search(bold) for bold in _BOLD.findall(text)):
        return True
    anchor = glossary_anchor(term)
    return f"glossary.md#{anchor})" in text


def glossary_anchor(term: str) -> str:
    """The anchor GitHub and JupyterLab give the glossary heading ``### term``."""
    return re.sub(r"[^\w\- ]", "", term.lower()).strip().replace(" ", "-")


def _notebook_prose(path: Path) -> list[tuple[int, str]]:
    """``(cell index, text)`` of the markdown cells of a notebook, code spans removed."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(i, re.sub(r"`[^`]*`", lambda m: m.group(0) if "fc2" in m.group(0)
                       or "shapes-vgg" in m.group(0) else " ", "".join(c["source"])))
            for i, c in enumerate(cells) if c["cell_type"] == "markdown"]


def term_problems(root: Path = ROOT, terms: dict[str, str] | None = None) -> list[Problem]:
    """Terms used before they are defined, reading the notebooks in the series' order.

    A term is defined where a markdown cell writes it in bold or links it to its
    glossary entry (see :func:`_defines`); its first use in the series must be
    at or after that. Headings do not count as a use. Every notebook links the
    glossary in its first cells (a learner may open any notebook first), and
    the glossary has an entry for every term.
    """
    names = list(terms or TERMS)
    problems = []
    glossary = root / GLOSSARY
    headings = set()
    if glossary.exists():
        headings = {glossary_anchor(h) for h in
                    re.findall(r"^### (.+)$", glossary.read_text(encoding="utf-8"), re.M)}
    for term in names:
        if glossary_anchor(term) not in headings:
            problems.append(Problem(GLOSSARY, f"no '### {term}' entry"))
    settled: set[str] = set()  # defined, or reported once
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = _notebook_prose(path)
        if cells and "glossary.md" not in "".join(text for _, text in cells[:3]):
            problems.append(Problem(f"notebooks/{path.name}",
                                    f"the first cells do not link {GLOSSARY}"))
        for index, text in cells:
            body = "\n".join(line for line in text.splitlines()
                             if not line.lstrip().startswith("#"))
            for term in names:
                if term in settled or not _term_pattern(term).search(body):
                    continue
                settled.add(term)
                if not _defines(text, term):
                    problems.append(Problem(
                        f"notebooks/{path.name} cell {index}",
                        f"'{term}' is used before it is defined: write it in bold where it "
                        f"is explained, or link it ([{term}](../{GLOSSARY}"
                        f"#{glossary_anchor(term)}))"))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    problems = number_problems(args.root) + term_problems(args.root)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)" if problems else "prose OK: numbers labelled, "
          "terms defined before use")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
