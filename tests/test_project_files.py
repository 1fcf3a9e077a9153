"""The project's own files: the licence the wheel ships, and the demo that cleans up after itself.

Building a wheel needs setuptools >= 77 (PEP 639 licence metadata), which the test environment
does not have offline, so the licence is checked in the metadata the build reads instead.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
DEMO = ROOT / "examples" / "demo.sh"


def test_licence_is_mit_in_spdx_form_and_its_file_is_shipped() -> None:
    """The project is `license = "MIT"`, and its license-files are exactly the MIT LICENSE."""
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"
    shipped = {
        Path(path).relative_to(ROOT).as_posix()
        for pattern in project["license-files"]
        for path in glob.glob(str(ROOT / pattern))
    }
    assert shipped == {"LICENSE"}
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the docmigrate authors\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert not any("License ::" in c for c in project.get("classifiers", []))  # PEP 639


def test_build_requires_a_setuptools_that_knows_pep_639() -> None:
    """The build backend is setuptools >= 77, the first to read an SPDX `license` string."""
    requires = PYPROJECT["build-system"]["requires"]
    assert [r for r in requires if r.startswith("setuptools")] == ["setuptools>=77"]


def _demo_env(tmp: Path) -> dict[str, str]:
    """The demo's environment: this interpreter's scripts first, scratch folders under ``tmp``."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return dict(os.environ, PATH=path, TMPDIR=str(tmp), NO_COLOR="1")


def test_demo_removes_its_scratch_folder(tmp_path: Path) -> None:
    """The demo runs to its export and leaves nothing in TMPDIR."""
    done = subprocess.run(
        ["sh", str(DEMO)],
        cwd=ROOT,
        env=_demo_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{tmp_path}/docmigrate-demo." in done.stdout  # it did work in a scratch folder
    assert "docmigrate export" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_interrupted_demo_removes_its_scratch_folder(tmp_path: Path) -> None:
    """SIGTERM while the demo runs: it exits with 143 and its scratch folder is gone."""
    process = subprocess.Popen(
        ["sh", str(DEMO)],
        cwd=ROOT,
        env=_demo_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not list(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)
    scratch = list(tmp_path.iterdir())
    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert [p.name.startswith("docmigrate-demo.") for p in scratch] == [True]  # it was there
    assert list(tmp_path.iterdir()) == []
