"""Installing boxloc into a Colab runtime changes none of the runtime's packages.

pip resolves the install (``--dry-run --report``, nothing is installed) in a virtualenv on the
stack's own Python whose importable distributions are the stack's pinned packages (metadata
only, ``compat/stacks/*.txt``), i.e. as in a runtime that has them installed. Both ways are
checked: a plain ``pip install`` of the wheel, and the notebooks' install cell
(``compat/install_cell.py``: pip constrained to the installed versions). Needs PyPI and the
stack's Python (``python3.12``, ``python3.13`` on PATH or under pyenv); skipped without it.
"""

import pytest
from compat_helpers import built, matrix  # noqa: F401  (fixtures)

STACKS = {"colab-py312": "3.12", "colab-py313": "3.13"}


@pytest.fixture(scope="module", params=sorted(STACKS))
def runtime(request, matrix, tmp_path_factory):
    name = request.param
    python = matrix.find_python(STACKS[name])
    if python is None:
        pytest.skip(f"no Python {STACKS[name]} here to resolve the {name} stack with")
    pins = matrix.stack_pins(f"{name}.txt")
    python, env = matrix.fake_environment(python, pins, tmp_path_factory.mktemp(name))
    return name, pins, python, env


def wheel(built):
    return str(next(built[0].glob("*.whl")))


def changed(pins, installs):
    """Packages of the runtime that pip would replace: {name: 'old -> new'}."""
    return {name: f"{pins[name]} -> {version}" for name, version in installs.items()
            if name in pins and pins[name] != version}


def test_plain_pip_install_changes_no_package_of_the_runtime(runtime, built, matrix, tmp_path):
    name, pins, python, env = runtime
    result, installs = matrix.dry_run(python, env, ["-m", "pip", "install", wheel(built)],
                                      tmp_path / "report.json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert changed(pins, installs) == {}, f"pip would change {name}'s packages"
    assert set(installs) == {"boxloc"}, installs


@pytest.mark.parametrize("source", ["wheel", "folder"])
def test_the_notebooks_install_cell_changes_no_package_of_the_runtime(runtime, built, matrix,
                                                                       tmp_path, source):
    """From a wheel (e.g. uploaded to Drive) or the library's folder, as ``BOXLOC_PIP`` allows."""
    name, pins, python, env = runtime
    cell = str(matrix.INSTALL_CELL)
    target = wheel(built) if source == "wheel" else str(matrix.ROOT / "lib")
    result, installs = matrix.dry_run(python, env, [cell, target, "-q"],
                                      tmp_path / "report.json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "kept", result.stdout + result.stderr
    assert changed(pins, installs) == {}
    assert "boxloc" in installs


def test_the_install_cell_adds_what_is_missing_without_touching_the_rest(runtime, matrix,
                                                                         tmp_path):
    """A package the runtime lacks (nilearn, whose newest release wants pandas >= 2.3) is
    added at a release that fits the installed pandas, packaging and requests."""
    name, pins, python, env = runtime
    result, installs = matrix.dry_run(python, env, [str(matrix.INSTALL_CELL), "nilearn", "-q"],
                                      tmp_path / "report.json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "kept"
    assert changed(pins, installs) == {}
    assert "nilearn" in installs
