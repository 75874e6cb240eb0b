"""The learner's settings file: choose the dataset (and more) once for the whole series.

Taught in notebook 00. Every notebook's Parameters cell reads ``my-settings.ini``
at the repository's top (see :mod:`helpers.settings` for the order: the
environment, then the Parameters cell, then this file, then the defaults), so a
learner on a CPU laptop says "shapes world" once instead of in every notebook::

    python -m helpers.config                     # each setting, its value, where it comes from
    python -m helpers.config dataset=shapes      # write it into my-settings.ini
    python -m helpers.config epochs=              # remove one setting from the file
    python -m helpers.config --reset             # remove the file

From a notebook: ``save_settings(dataset="shapes")``. ``make test`` and
``make tutorial`` ignore the file (``CAPTION_SETTINGS_FILE=none``).
"""

from __future__ import annotations

import argparse
import configparser
import io
import sys
from pathlib import Path

from helpers.runtime import write_atomically
from helpers.settings import (
    SETTINGS_SECTION,
    VARIABLES,
    get_settings,
    notebook_settings,
    read_settings_file,
    setting_origins,
    settings_file,
)


def save_settings(**values: object) -> Path:
    """Write ``values`` into the learner's settings file, keeping its other settings.

    A value of ``None`` or ``""`` removes that setting. The result is checked
    before it is written, so a typo (``dataset="shape"``) stops here, with the
    file unchanged, rather than in the next notebook. Returns the file's path.
    """
    path = settings_file()
    if path is None:
        raise ValueError("CAPTION_SETTINGS_FILE=none: there is no settings file to write; "
                         "unset the variable, or set it to a file's path")
    unknown = sorted(set(values) - set(VARIABLES))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; the settings are "
                         f"{', '.join(VARIABLES)}")
    kept = read_settings_file(path)
    for key, value in values.items():
        if value is None or str(value).strip() == "":
            kept.pop(key, None)
        else:
            kept[key] = str(value).strip()
    _check(kept)
    parser = configparser.ConfigParser()
    parser[SETTINGS_SECTION] = dict(sorted(kept.items()))
    text = io.StringIO()
    text.write("# Your settings for the whole series (python -m helpers.config).\n"
               "# An environment variable or a notebook's Parameters cell wins over them.\n")
    parser.write(text)
    write_atomically(path, text.getvalue())
    return path


def _check(values: dict[str, str]) -> None:
    """Raise ValueError if ``values`` would make settings that cannot be read."""
    settings = get_settings(**values)  # as arguments, so the environment cannot hide a typo
    for key in values:
        getattr(settings, key)  # a malformed number or encoder raises here


def describe(**parameters: object) -> str:
    """Each setting, its value and where it comes from, as aligned lines."""
    settings = notebook_settings(**parameters)
    origins = setting_origins(**parameters)
    path = settings_file()
    lines = [f"settings file: {path if path else 'none (CAPTION_SETTINGS_FILE=none)'}"
             + ("" if path is None or path.is_file() else " (not written yet)")]
    width = max(map(len, VARIABLES))
    for key in VARIABLES:
        try:
            value = getattr(settings, key)
        except ValueError as err:
            value = f"invalid: {err}"
        else:
            if key == "encoder_weights" and not settings.encoder_choice.spec.takes_weights:
                value = f"{value}, unused: {settings.encoder} has its own (notebook 02)"
        lines.append(f"{key:<{width}}  {value}  ({origins.get(key, 'default')})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.config",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", metavar="NAME=VALUE",
                        help=f"settings to write: {', '.join(VARIABLES)}; NAME= removes one")
    parser.add_argument("--reset", action="store_true", help="remove the settings file")
    args = parser.parse_args(argv)
    try:
        if args.reset:
            path = settings_file()
            if path is not None and path.exists():
                path.unlink()
                print(f"removed {path}")
        if args.assignments:
            pairs = [a.partition("=") for a in args.assignments]
            bad = [a for a, (_, sep, _) in zip(args.assignments, pairs) if not sep]
            if bad:
                parser.error(f"write each setting as NAME=VALUE, not {bad[0]!r}")
            print(f"wrote {save_settings(**{k.strip(): v for k, _, v in pairs})}")
        print(describe())
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
