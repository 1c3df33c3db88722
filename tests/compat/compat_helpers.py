"""Fixtures of the compatibility tests (imported by them; a second conftest.py would clash with
tests/lib/conftest.py under pytest's default import mode): compat/matrix.py, the built
distributions."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(path):
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def matrix():
    return load("compat/matrix.py")


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """``python -m build`` of lib/ (sdist, then the wheel from it, as pip would): the output
    folder and everything the build printed."""
    pytest.importorskip("build", reason="python -m build needs the 'build' package")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out),
                             str(ROOT / "lib")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout + result.stderr
