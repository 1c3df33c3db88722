"""The repository's promises: one dependency list, the README's commands, CI's entry point."""

import re
from pathlib import Path

from scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def requirement_names(lines):
    """Package names of requirement strings ('numpy>=2.0' -> 'numpy'), lower-case."""
    names = set()
    for line in lines:
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def pyproject_requirements(extras=("tensorflow",)):
    """The [project] dependencies of lib/pyproject.toml and those of its ``extras``
    (tomllib is not in Python 3.10)."""
    text = (ROOT / "lib" / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    requirements = re.findall(r'"([^"]+)"', block)
    for extra in extras:
        line = re.search(rf"^{extra} = \[(.*)\]$", text, re.M).group(1)
        requirements += re.findall(r'"([^"]+)"', line)
    return requirements


def dev_requirements():
    """requirements-dev.txt and requirements-site.txt (run.py installs both for the tests)."""
    return [line for name in ("requirements-dev.txt", "requirements-site.txt")
            for line in (ROOT / name).read_text().splitlines()]


def conda_requirements():
    """The dependency strings of environment.yml, conda's and its pip section's (a flat list,
    parsed without PyYAML); not python, pip or the editable lib."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("dependencies:")
    entries = []
    for line in lines[start + 1:]:
        match = re.match(r"^  - ([^:]+)$", line) or re.match(r"^      - ([^-].*)$", line)
        if match:
            entries.append(match.group(1).strip())
    return [e for e in entries if not e.startswith(("python", "pip"))]


def test_environment_yml_lists_the_same_packages_and_bounds():
    pip_side = pyproject_requirements() + [r for r in dev_requirements()
                                           if r.strip() and not r.startswith("#")]
    assert requirement_names(conda_requirements()) == requirement_names(pip_side)
    assert sorted(conda_requirements()) == sorted(r.strip() for r in pip_side)
    assert "-e ./lib" in (ROOT / "environment.yml").read_text()


def test_dependencies_declare_lower_bounds_only():
    for requirement in pyproject_requirements() + dev_requirements():
        requirement = requirement.split("#")[0].strip()
        if requirement:
            assert "==" not in requirement and "<" not in requirement, requirement


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "python3 run.py demo" in readme and "python3 run.py test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci and "python3 run.py test" in ci
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111


def test_an_empty_pytest_run_fails(monkeypatch):
    run_script = load_script("run.py", "run_script")
    monkeypatch.setattr(run_script, "ensure_venv", lambda: None)
    monkeypatch.setattr(run_script, "run", lambda args: run_script.PYTEST_NO_TESTS_COLLECTED)
    assert run_script.main(["test"]) == 5
    assert run_script.main(["no-such-command"]) == 2


def test_the_fast_tier_is_a_marker_expression_and_other_arguments_pass_through(monkeypatch):
    run_script = load_script("run.py", "run_script")
    monkeypatch.setattr(run_script, "ensure_venv", lambda: None)
    started = []
    monkeypatch.setattr(run_script, "run", lambda args: started.append(args) or 0)
    assert run_script.main(["test", "--fast", "-k", "anchors", "tests/lib"]) == 0
    assert started == [["-m", "pytest", "-m", "not grading and not notebook and not keras and not compat",
                        "-k", "anchors", "tests/lib"]]
    registered = (ROOT / "pytest.ini").read_text()
    for marker in ("library", "course", "compat", "keras", "grading", "notebook"):
        assert f"\n    {marker}: " in registered, marker


def test_course_scripts_run_from_a_python_without_their_packages():
    """``python3 course/manage.py ...`` on a fresh clone: the system python3 has no nbformat, so
    the script re-runs itself through run.py in the project's virtualenv (here: this one).
    ``-S`` (no site-packages) stands for that python3."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "BOXLOC_VENV": sys.prefix}
    env.pop("BOXLOC_IN_VENV", None)
    for script, usage in (("manage.py", "{generate,check,demo,publish}"),
                          ("instructor.py", "{release,collect,grade,export,feedback,similarity,override}")):
        bare = subprocess.run([sys.executable, "-S", "-c", "import nbformat"], capture_output=True)
        assert bare.returncode != 0, "-S should hide nbformat"
        done = subprocess.run([sys.executable, "-S", str(ROOT / "course" / script), "--help"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0 and usage in done.stdout, done.stderr[-2000:]
