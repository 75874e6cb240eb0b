"""Is this machine ready for the series? One OK or FAIL line per requirement (notebook 00).

An instructor checks a lab machine in a minute, a learner their laptop or a
Colab runtime::

    python -m helpers.check            # exit status 0 unless a required check fails
    python -m helpers.check --timeout 2

Required: Python, TensorFlow with Keras 3, and the packages the notebooks
import. Needed only for some parts, so their failure is reported but does not
fail the check: a GPU (not needed at all; it makes Flickr8k quick), free disk
and internet access for Flickr8k and the ImageNet weights, and Java for METEOR.
Offline, those lines say FAIL with what to do instead, and the shapes world
still runs.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import shutil
import sys
import textwrap
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from helpers.download import FLICKR8K_URL
from helpers.encoders import ENCODERS
from helpers.runtime import gpu_names, in_colab, keras_models_dir, native_logs_to_file, repo_root
from helpers.settings import get_settings

PYTHON_MIN = (3, 10)
FLICKR8K_DISK_GB = 5.0  # zips 1.1 GB, images 1.1 GB, features and the conv grid 1.8 GB
IMAGENET_FILE = ENCODERS["vgg16"].imagenet.file  # the file helpers.features downloads
IMAGENET_URL = ENCODERS["vgg16"].imagenet.url
TIMES = 'README.md, "How long it takes"'  # the one table of measured run times
SETUP_INSTALLS_ON_COLAB = {"pycocoevalcap"}  # Colab lacks it; the Setup cells %pip install it
PACKAGES = {  # distribution name: what it is for; pyproject.toml declares each
    "numpy": "arrays", "pillow": "reading images", "matplotlib": "figures",
    "scikit-learn": "feature projections, the linear probe (notebook 02)", "tqdm": "progress bars",
    "nltk": "BLEU (notebook 06)", "pycocoevalcap": "CIDEr, ROUGE-L, METEOR (notebook 06)",
}


@dataclass
class Check:
    """One requirement: whether it holds, what was found, and what to do if not."""

    name: str
    ok: bool
    found: str
    fix: str = ""
    required: bool = True

    def line(self, width: int = 100) -> str:
        """``OK    name: found``, or ``FAIL  name: found`` and ``-> fix`` below it.

        Wrapped to ``width`` characters (a notebook shows about 100), the
        continuation lines indented under the name.
        """
        status = "OK  " if self.ok else "FAIL"
        optional = "" if self.required or self.ok else " (optional)"
        lines = [textwrap.fill(part, width, subsequent_indent=" " * 6)
                 for part in f"{status}  {self.name}{optional}: {self.found}".split("\n")]
        if not self.ok and self.fix:
            lines.append(textwrap.fill(f"-> {self.fix}", width, initial_indent=" " * 6,
                                       subsequent_indent=" " * 9))
        return "\n".join(lines)


def _tested_versions(root: Path) -> dict[str, str]:
    """``name -> version`` from ``constraints.txt``: what ``make test`` last passed with.

    Each line is read as a requirement (``name==version``, with comments, markers or
    extras allowed); names are compared in their canonical form (``Jinja2`` is ``jinja2``).
    """
    path = root / "constraints.txt"
    if not path.exists():
        return {}
    pins = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as err:
            raise ValueError(f"{path}, line {number}: {line!r} is not a requirement ({err}); "
                             "write it as name==version") from err
        exact = [s.version for s in requirement.specifier if s.operator in ("==", "===")]
        if exact:
            pins[canonicalize_name(requirement.name)] = exact[0]
    return pins


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python() -> Check:
    """Python 3.10 or newer (the tested versions need 3.11)."""
    found = ".".join(map(str, sys.version_info[:3]))
    return Check("Python", sys.version_info >= PYTHON_MIN, found,
                 "install Python 3.10 or newer (3.11 for the tested versions)")


def check_packages(root: Path) -> list[Check]:
    """TensorFlow, Keras 3 and the other packages, against the tested versions."""
    tested = _tested_versions(root)
    install = ("%pip install -q {name}" if "google.colab" in sys.modules
               else "pip install -r requirements.txt (or `make setup`)")
    checks = []
    for name, purpose in {"tensorflow": "the networks", "keras": "the networks",
                          **PACKAGES}.items():
        version = _version(name) or (_version("tensorflow-cpu") if name == "tensorflow" else None)
        if version is None:
            on_colab_later = "google.colab" in sys.modules and name in SETUP_INSTALLS_ON_COLAB
            checks.append(Check(name, False, f"not installed ({purpose})",
                                "each notebook's Setup cell installs it on Colab" if on_colab_later
                                else install.format(name=name), required=not on_colab_later))
            continue
        pin = tested.get(canonicalize_name(name))
        note = "" if pin in (None, version) else f" (tested with {pin})"
        ok, fix = True, ""
        if name == "keras" and not version.startswith("3."):
            ok, fix = False, "the series needs Keras 3: TensorFlow 2.16 or newer"
        if name == "tensorflow" and tuple(int(p) for p in version.split(".")[:2]) < (2, 16):
            ok, fix = False, "the series needs TensorFlow 2.16 or newer (Keras 3)"
        if ok and name in ("tensorflow", "keras"):  # installed is not enough: it must import
            broken = _import_error(name)
            if broken:
                ok, note = False, f"{note}, but `import {name}` fails: {broken}"
                fix = "reinstall it (`make setup`), or see the error above"
        checks.append(Check(name, ok, version + note, fix))
    return checks


def _import_error(module: str) -> str | None:
    """Why ``module`` does not import, or None when it does."""
    try:
        importlib.import_module(module)
    except Exception as err:  # any failure at import is what the learner would meet
        return f"{type(err).__name__}: {err}"
    return None


def gpu_note(gpus: list[str], on_colab: bool) -> str:
    """What ``gpus`` means for the series, and without one what to do and where the times are.

    >>> gpu_note(["/physical_device:GPU:0"], on_colab=True)
    '/physical_device:GPU:0'
    """
    if gpus:
        return ", ".join(gpus)
    if on_colab:
        return ("none. Runtime > Change runtime type > T4 GPU, then run the notebook again."
                f"\n     Without one it still runs on the CPU, only slower. Times: {TIMES}.")
    return ("none, CPU only. Fine for the shapes world, slow for Flickr8k."
            f"\n     Times: {TIMES}.")


def gpu_line() -> str:
    """The GPU line of each notebook's version cell: ``GPU: ...``, with advice when none."""
    return f"GPU: {gpu_note(gpu_names(), in_colab())}"


def check_gpu() -> Check:
    """Whether TensorFlow sees a GPU: not required, but Flickr8k is far quicker with one."""
    try:
        gpus = gpu_names()
    except Exception as err:  # TensorFlow itself is checked above
        return Check("GPU", False, f"cannot ask TensorFlow ({err})", "see the tensorflow line",
                     required=False)
    return Check("GPU", True, gpu_note(gpus, in_colab()), required=False)


def check_disk(data_dir: Path) -> Check:
    """Free disk where the data goes, against what Flickr8k needs."""
    where = data_dir
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free / 1e9
    return Check("free disk for Flickr8k", free >= FLICKR8K_DISK_GB,
                 f"{free:.1f} GB free in {where} (Flickr8k needs about {FLICKR8K_DISK_GB:.0f} GB)",
                 "free some space, or set CAPTION_DATA_DIR to a larger disk; the shapes world "
                 "needs under 100 MB", required=False)


def reachable(url: str, timeout: float) -> str | None:
    """None when ``url`` answers (following redirects), else why not."""
    request = urllib.request.Request(url, method="HEAD",
                                     headers={"User-Agent": "caption-tutorial-check"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return None if response.status < 400 else f"HTTP {response.status}"
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return str(getattr(err, "reason", err))


def check_downloads(timeout: float, imagenet_url: str = IMAGENET_URL,
                    flickr8k_url: str | None = None) -> list[Check]:
    """Whether ImageNet's VGG16 weights (or a cached copy) and the Flickr8k zips can be had."""
    flickr8k_url = flickr8k_url or f"{FLICKR8K_URL}/Flickr8k_text.zip"
    cached = keras_models_dir() / IMAGENET_FILE
    if cached.exists():
        imagenet = Check("ImageNet VGG16 weights", True, f"cached in {cached}", required=False)
    else:
        why = reachable(imagenet_url, timeout)
        imagenet = Check("ImageNet VGG16 weights", why is None,
                         "downloadable (528 MB, once)" if why is None
                         else f"not reachable ({why}): offline?",
                         f"copy {IMAGENET_FILE} from a machine with internet into "
                         f"{cached.parent}/ (or anywhere, and set CAPTION_ENCODER_WEIGHTS to "
                         "its path); the shapes world needs none",
                         required=False)
    why = reachable(flickr8k_url, timeout)
    flickr = Check("Flickr8k zips", why is None,
                   "downloadable (about 1 GB, once)" if why is None
                   else f"not reachable ({why}): offline?",
                   "download them elsewhere and unpack into data/flickr8k (notebook 01 says "
                   "how), or choose the shapes world for the series: notebook 00 or "
                   "`python -m helpers.config dataset=shapes`", required=False)
    return [imagenet, flickr]


def check_java() -> Check:
    """Java runs METEOR (notebook 06); without it METEOR is left out of the table."""
    java = shutil.which("java")
    return Check("Java for METEOR", java is not None, java or "not found",
                 "install a Java runtime (for example `apt install default-jre`); without it "
                 "the other scores are still computed", required=False)


def run_checks(data_dir: str | Path | None = None, timeout: float = 5.0,
               imagenet_url: str = IMAGENET_URL, flickr8k_url: str | None = None) -> list[Check]:
    """Every check, in the order they are printed."""
    data_dir = Path(data_dir) if data_dir is not None else get_settings().data_dir
    checks = [check_python(), *check_packages(repo_root())]
    if all(c.ok for c in checks if c.name == "tensorflow"):
        checks.append(check_gpu())
    checks += [check_disk(data_dir), *check_downloads(timeout, imagenet_url, flickr8k_url),
               check_java()]
    return checks


def summary(checks: list[Check]) -> str:
    """The last line: whether the series can run, and what else is missing."""
    failed = [c.name for c in checks if not c.ok and c.required]
    optional = [c.name for c in checks if not c.ok and not c.required]
    if failed:
        return f"NOT READY: fix {', '.join(failed)} (see the FAIL lines above)."
    extra = f"; not available: {', '.join(optional)} (optional)" if optional else ""
    return f"READY: the series runs on the shapes world{extra}."


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.check``: print the checks; exit 1 only if a required one fails."""
    parser = argparse.ArgumentParser(prog="python -m helpers.check", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for each download site (default 5)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_logs_to_file():  # TensorFlow's start-up lines go to a log file
        checks = run_checks(timeout=args.timeout)
    print("\n".join(c.line() for c in checks))
    print(summary(checks))
    return 1 if any(not c.ok and c.required for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
