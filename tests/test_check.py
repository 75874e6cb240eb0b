"""`python -m helpers.check`: one truthful OK/FAIL line per requirement (notebook 00)."""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from helpers import check


@pytest.fixture
def server(tmp_path):
    """A local HTTP server standing in for the download sites."""
    (tmp_path / check.IMAGENET_FILE).write_bytes(b"weights")
    (tmp_path / "Flickr8k_text.zip").write_bytes(b"zip")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(autouse=True)
def no_cached_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))  # nothing cached here


def by_name(checks):
    return {c.name: c for c in checks}


def test_online_the_downloads_are_reachable(server, tmp_path):
    checks = by_name(check.run_checks(tmp_path / "data", timeout=5,
                                      imagenet_url=f"{server}/{check.IMAGENET_FILE}",
                                      flickr8k_url=f"{server}/Flickr8k_text.zip"))
    assert checks["ImageNet VGG16 weights"].ok and checks["Flickr8k zips"].ok
    assert checks["Python"].ok and checks["tensorflow"].ok and checks["keras"].ok
    assert checks["free disk for Flickr8k"].found.endswith("(Flickr8k needs about 5 GB)")


def test_offline_says_so_and_still_passes(server, tmp_path, capsys, monkeypatch):
    closed = "http://127.0.0.1:9/nothing.zip"  # the discard port: nothing listens
    checks = check.run_checks(tmp_path, timeout=2, imagenet_url=closed, flickr8k_url=closed)
    named = by_name(checks)
    for name in ("ImageNet VGG16 weights", "Flickr8k zips"):
        assert not named[name].ok and not named[name].required
        assert named[name].line().startswith(f"FAIL  {name} (optional): not reachable")
        assert "->" in named[name].line()  # says what to do
    assert check.summary(checks).startswith("READY: the series runs on the shapes world")

    monkeypatch.setattr(check, "run_checks", lambda timeout: checks)
    assert check.main([]) == 0  # optional failures do not fail the check
    printed = capsys.readouterr().out.splitlines()
    lines = sum(len(c.line().splitlines()) for c in checks)  # the GPU line has two
    assert len(printed) == lines + 1 and printed[-1].startswith("READY")


def test_a_missing_package_fails_the_check(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(check.PACKAGES, "no-such-package-xyz", "testing")
    checks = check.run_checks(tmp_path, timeout=1, imagenet_url="http://127.0.0.1:9/x",
                              flickr8k_url="http://127.0.0.1:9/x")
    missing = by_name(checks)["no-such-package-xyz"]
    assert not missing.ok and missing.required and "requirements.txt" in missing.fix
    assert check.summary(checks) == ("NOT READY: fix no-such-package-xyz (see the FAIL lines "
                                     "above).")
    monkeypatch.setattr(check, "run_checks", lambda timeout: checks)
    assert check.main([]) == 1


def test_versions_are_compared_with_the_tested_ones(tmp_path, monkeypatch):
    (tmp_path / "constraints.txt").write_text("# pins\nnumpy==0.0.1\ntqdm==99\n")
    monkeypatch.setattr(check, "_version", lambda name: {"numpy": "2.4.0", "tqdm": "99",
                                                         "keras": "2.15.0"}.get(name, "3.0"))
    checks = by_name(check.check_packages(tmp_path))
    assert checks["numpy"].ok and checks["numpy"].found == "2.4.0 (tested with 0.0.1)"
    assert checks["tqdm"].found == "99"
    assert not checks["keras"].ok and "Keras 3" in checks["keras"].fix


def test_tested_versions_read_any_requirement_line(tmp_path):
    (tmp_path / "constraints.txt").write_text(
        "# pins\nJinja2==3.1.6  # a comment\nnumpy == 2.4.6 ; python_version >= '3.10'\n"
        "scikit_learn==1.9.1\n")
    assert check._tested_versions(tmp_path) == {"jinja2": "3.1.6", "numpy": "2.4.6",
                                                "scikit-learn": "1.9.1"}
    (tmp_path / "constraints.txt").write_text("numpy==2.4.6\nnot a pin!\n")
    with pytest.raises(ValueError, match=r"constraints.txt, line 2: 'not a pin!'"):
        check._tested_versions(tmp_path)


def test_the_command_says_ready_offline_in_this_environment(tmp_path):
    """`python -m helpers.check` as a learner runs it: the download lines are only optional."""
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras_home"),
           "CAPTION_DATA_DIR": str(tmp_path / "data"),
           # no proxy answers: the downloads are unreachable, as on an offline machine
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-m", "helpers.check", "--timeout", "2"],
                          capture_output=True, text=True, env=env, timeout=600,
                          cwd=Path(check.__file__).parents[1])
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("READY: the series runs on the shapes world"), done.stdout
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert all("(optional)" in line for line in failed), failed


def test_a_tensorflow_that_does_not_import_is_a_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(check, "_import_error",
                        lambda name: "ImportError: libcudart.so" if name == "tensorflow" else None)
    checks = by_name(check.check_packages(tmp_path))
    assert not checks["tensorflow"].ok and checks["tensorflow"].required
    assert "`import tensorflow` fails: ImportError: libcudart.so" in checks["tensorflow"].found
    monkeypatch.setattr(check, "_version", lambda name: "2.15.1")
    assert "2.16 or newer" in by_name(check.check_packages(tmp_path))["tensorflow"].fix


def test_on_colab_what_the_setup_cells_install_is_not_yet_a_failure(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    real = check._version
    monkeypatch.setattr(check, "_version",
                        lambda name: None if name == "pycocoevalcap" else real(name))
    missing = by_name(check.check_packages(tmp_path))["pycocoevalcap"]
    assert not missing.ok and not missing.required and "Setup cell" in missing.fix


def test_without_a_gpu_the_line_says_what_to_do(monkeypatch):
    monkeypatch.setattr(check, "gpu_names", lambda: [])
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    local = check.gpu_line()
    assert local.startswith("GPU: none, CPU only. Fine for the shapes world")
    assert len(local.splitlines()) <= 2 and max(map(len, local.splitlines())) <= 100
    assert check.check_gpu().found == local.removeprefix("GPU: ")  # notebook 00 says the same

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    colab = check.gpu_line()
    assert "Runtime > Change runtime type > T4 GPU, then run the notebook again" in colab
    assert "still runs on the CPU, only slower" in colab
    assert len(colab.splitlines()) <= 2 and max(map(len, colab.splitlines())) <= 100
    assert check.check_gpu().ok  # a missing GPU is advice, never a failure

    # Both point to where the run times are, and that place holds a measured table of them
    readme = (Path(check.__file__).parents[1] / "README.md").read_text()
    for line in (local, colab):
        assert 'Times: README.md, "How long it takes"' in line
    section = readme.split("\n## How long it takes\n", 1)[1].split("\n## ", 1)[0]
    # labelled: measured, on which machine, on which date
    assert "(measured:" in section and re.search(r"\b20\d\d-\d\d-\d\d\b", section)
    assert "| 02 feature extraction |" in section and "| 05 training |" in section


def test_with_a_gpu_the_line_names_it(monkeypatch):
    monkeypatch.setattr(check, "gpu_names", lambda: ["/physical_device:GPU:0"])
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert check.gpu_line() == "GPU: /physical_device:GPU:0"
