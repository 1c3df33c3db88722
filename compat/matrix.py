"""The compatibility matrix: boxloc installed into pinned environments, tested there.

    python3 compat/matrix.py run [NAME ...]   # build the environments, install, test (slow)
    python3 compat/matrix.py lock             # re-resolve stacks/*.in into stacks/*.txt

(``python3 run.py compat`` runs ``run``.) Each environment (``ENVIRONMENTS``) is a virtualenv
under ``.compat-venvs/NAME`` on its own Python:

* ``colab-py312``, ``colab-py313``: Colab's packages first (``stacks/colab-py31x.txt``: the
  runtime version 2026.01 with Keras 3.10, and the current one), then boxloc the way the
  notebooks' first cell installs it (``install_cell.py``); pip must change nothing that was
  there. Then ``tests/lib``, ``tests/compat`` and the four solution notebooks, top to bottom in
  the fast configuration (``BOXLOC_FAST=1``, as ``course/manage.py generate`` runs them), each
  in a fresh kernel and folder.
* ``lowest-py310``: the oldest releases declared in ``lib/pyproject.toml`` (``stacks/
  lowest-py310.in``) as constraints; same tests and notebooks.
* ``backends-py311``: Keras with JAX and PyTorch (CPU) and no TensorFlow; ``tests/lib`` under
  ``KERAS_BACKEND=jax`` and ``=torch``, and ``tests/compat``.

Each run writes ``.compat-venvs/results/NAME.json`` and prints the README's matrix row. The
functions for cheap checks (``stack_pins``, ``fake_environment``, ``dry_run``) serve the tests:
they resolve an install against a stack without installing it.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "compat"
STACKS = HERE / "stacks"
VENVS = ROOT / ".compat-venvs"
INSTALL_CELL = HERE / "install_cell.py"
NOTEBOOKS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
# No floor on ipykernel: a Colab stack brings its own kernel (6.17.1), the one to run under.
TEST_TOOLS = ["pytest>=8", "hypothesis>=6.100", "nbclient>=0.10", "nbformat>=5.9", "ipykernel"]

MATRIX_TESTS = ["tests/lib", "tests/compat/test_backends.py",
                "tests/compat/test_core_without_tensorflow.py"]

ENVIRONMENTS = {
    "colab-py312": {"python": "3.12", "preinstalled": "colab-py312.txt", "extras": "",
                    "backends": ["tensorflow"], "notebooks": True},
    "colab-py313": {"python": "3.13", "preinstalled": "colab-py313.txt", "extras": "",
                    "backends": ["tensorflow"], "notebooks": True},
    "lowest-py310": {"python": "3.10", "constraints": "lowest-py310.in",
                     "extras": "[tensorflow]", "backends": ["tensorflow"], "notebooks": True},
    "backends-py311": {"python": "3.11", "extras": "[jax]",
                       "also": ["torch==2.13.0"], "backends": ["jax", "torch"],
                       "notebooks": False},
}


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def stack_pins(name):
    """``{normalised name: version}`` of a stack file (``name==version`` lines)."""
    pins = {}
    for line in (STACKS / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            package, version = line.split("==")
            pins[normalise(package)] = version.strip()
    return pins


def find_python(version):
    """A working interpreter for ``version`` ('3.12'): python3.12 on PATH, or under pyenv
    (whose shims on PATH fail for versions not selected)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}")] + [
        str(folder / "bin" / "python") for folder in sorted(pyenv.glob(f"{version}.*"),
                                                            reverse=True)]
    for candidate in filter(None, candidates):
        try:
            found = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % "
                                    "sys.version_info[:2])"], capture_output=True, text=True,
                                   timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if found == version:
            return candidate
    return None


def clean_pip_environment():
    """os.environ for pip runs that must see PyPI only, as on Colab: this machine's local wheel
    folders, extra indexes and constraint file are switched off (its certificate setting is
    kept)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")
           or k in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_INDEX_URL")}
    env.update(PIP_CONSTRAINT="", PIP_FIND_LINKS="", PIP_EXTRA_INDEX_URL="",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def fake_environment(python, pins, folder):
    """A virtualenv on ``python`` whose importable distributions are ``pins`` (metadata only,
    no code): pip resolves an install there as in an environment that has them installed.
    Returns ``(python, env)`` to run ``python -m pip`` with."""
    folder = Path(folder)
    subprocess.run([python, "-m", "venv", str(folder / "venv")], check=True)
    site = folder / "site"
    for name, version in pins.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\n"
                                       f"Version: {version}\n")
        (info / "INSTALLER").write_text("pip\n")
        (info / "RECORD").write_text("")
    env = {**clean_pip_environment(), "PYTHONPATH": str(site)}
    return str(folder / "venv" / "bin" / "python"), env


def dry_run(python, env, command, report):
    """Run ``python command... --dry-run --report report`` (a pip install, or the install cell
    with pip arguments); returns ``(completed process, {name: version} pip would install)``."""
    result = subprocess.run([python, *command, "--dry-run", "--report", str(report)],
                            env=env, capture_output=True, text=True)
    installs = {}
    if Path(report).exists():
        for item in json.loads(Path(report).read_text())["install"]:
            installs[normalise(item["metadata"]["name"])] = item["metadata"]["version"]
    return result, installs


def lock():
    """Resolve each Colab ``stacks/*.in`` into the full pinned ``.txt`` for its Python."""
    for source in sorted(STACKS.glob("colab-*.in")):
        version = "3." + re.search(r"py3(\d+)", source.stem).group(1)
        # The stack's own interpreter: pip evaluates requirement markers (python_version < '3.12')
        # against the Python it runs on, whatever --python-version says.
        python = find_python(version)
        if python is None:
            raise SystemExit(f"no Python {version} here to resolve {source.name} with")
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            subprocess.run([python, "-m", "pip", "install", "-q", "--dry-run",
                            "--ignore-installed", "--only-binary=:all:", "--target", tmp,
                            "--report", str(report), "-r", str(source)],
                           env=clean_pip_environment(), check=True)
            items = json.loads(report.read_text())["install"]
        lines = sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in items)
        header = [line for line in source.read_text().splitlines() if line.startswith("#")]
        (STACKS / f"{source.stem}.txt").write_text(
            "\n".join(header + [f"# Resolved from {source.name} on {datetime.date.today()}."]
                      + sorted(lines, key=str.lower)) + "\n")
        print(f"{source.stem}.txt: {len(lines)} packages")


def _freeze(python):
    out = subprocess.run([python, "-m", "pip", "list", "--format=json"], check=True,
                         capture_output=True, text=True).stdout
    return {normalise(item["name"]): item["version"] for item in json.loads(out)}


def _step(log, title, command, env=None, check=True):
    print(f"--- {title}: {' '.join(map(str, command))}", flush=True)
    with open(log, "a") as sink:
        sink.write(f"\n--- {title}\n")
        sink.flush()
        result = subprocess.run(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    if check and result.returncode:
        raise RuntimeError(f"{title} failed (exit {result.returncode}); see {log}")
    return result.returncode


def _pytest_counts(log_text):
    """The counts of pytest's closing line, e.g. {'passed': 120, 'skipped': 3}; {'error': 1}
    when there is none."""
    lines = [line for line in log_text.splitlines()
             if re.search(r"\d+ (passed|failed|errors?)\b.* in [\d.]+s", line)]
    if not lines:
        return {"error": 1}
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", lines[-1])}
    counts.pop("warnings", None)
    counts.pop("warning", None)
    return counts


# Executes one notebook (argv[1]) in a folder (argv[2]) in the fast configuration; prints one
# line, the JSON of {"seconds", "slowest", "error"}: the slowest cell and its seconds, the first
# failing cell's number and error (its first line), or None.
NOTEBOOK_RUNNER = """
import datetime, json, os, sys, time, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
os.environ["BOXLOC_FAST"] = "1"
nb = nbformat.read(sys.argv[1], as_version=4)
start, error = time.perf_counter(), None
try:
    NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=True,
                   resources={"metadata": {"path": sys.argv[2]}}).execute()
except CellExecutionError as failure:
    failed = [i for i, c in enumerate(nb.cells) for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    first_line = (failure.evalue.splitlines() or [""])[0][:120]
    error = f"cell {failed[0] if failed else '?'}: {failure.ename}: {first_line}"
except Exception as failure:                                   # timeout, dead kernel
    error = f"{type(failure).__name__}: {failure}"[:200]
def seconds(cell):
    times = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in times or "shell.execute_reply" not in times:
        return 0
    ended, began = (datetime.datetime.fromisoformat(times[k].replace("Z", "+00:00"))
                    for k in ("shell.execute_reply", "iopub.execute_input"))
    return (ended - began).total_seconds()
slowest = max(range(len(nb.cells)), key=lambda i: seconds(nb.cells[i]))
print(json.dumps({"seconds": round(time.perf_counter() - start), "error": error,
                  "slowest": [slowest, round(seconds(nb.cells[slowest]))]}))
sys.exit(1 if error else 0)
"""


def _execute_notebooks(py, env, log):
    """Each solution notebook in a fresh kernel and folder: ``{path: 'executed in N s'}`` or
    ``'failed (cell K: error) after N s'``."""
    outcomes = {}
    for notebook in NOTEBOOKS:
        name = str(notebook.relative_to(ROOT))
        with tempfile.TemporaryDirectory() as tmp:
            text_before = log.read_text()
            _step(log, f"execute {name}", [py, "-c", NOTEBOOK_RUNNER, str(notebook), tmp], env,
                  check=False)
        lines = [line for line in log.read_text()[len(text_before):].splitlines()
                 if line.startswith('{"seconds"')]
        if not lines:
            outcomes[name] = "failed (the runner crashed; see the log)"
            continue
        run = json.loads(lines[-1])
        took = f"{run['seconds']} s (slowest: cell {run['slowest'][0]}, {run['slowest'][1]} s)"
        outcomes[name] = (f"executed in {took}" if run["error"] is None
                          else f"failed ({run['error']}) after {took}")
    return outcomes


def run_environment(name):
    """Build, install and test one environment; returns its result dict."""
    spec = ENVIRONMENTS[name]
    start = time.perf_counter()
    python = find_python(spec["python"])
    result = {"environment": name, "date": str(datetime.date.today())}
    if python is None:
        return {**result, "skipped": f"no Python {spec['python']} on this machine"}
    folder = VENVS / name
    shutil.rmtree(folder, ignore_errors=True)
    VENVS.mkdir(exist_ok=True)
    log = VENVS / f"{name}.log"
    log.write_text("")
    subprocess.run([python, "-m", "venv", str(folder)], check=True)
    py = str(folder / "bin" / "python")
    pip = [py, "-m", "pip", "install", "-q"]
    env = {**os.environ, "PATH": f"{folder / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(folder), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if spec.get("preinstalled"):
        _step(log, "preinstall the runtime's packages",
              pip + ["-r", str(STACKS / spec["preinstalled"])], env)
    before = _freeze(py)
    lib = f"{ROOT / 'lib'}{spec['extras']}"
    if spec.get("constraints"):
        _step(log, "install boxloc on the lowest releases",
              pip + ["-c", str(STACKS / spec["constraints"]), lib] + spec.get("also", []), env)
    elif spec.get("preinstalled"):
        _step(log, "install boxloc as the notebooks do", [py, str(INSTALL_CELL), lib, "-q"], env)
    else:
        _step(log, "install boxloc", pip + [lib] + spec.get("also", []), env)
    after = _freeze(py)
    # Only a runtime's packages must stay (a fresh venv's own pip/setuptools may be upgraded).
    changed = {k: f"{before[k]} -> {after.get(k, 'removed')}" for k in before
               if after.get(k) != before[k]} if spec.get("preinstalled") else None
    added = sorted(f"{k}=={v}" for k, v in after.items() if k not in before)
    result.update(python=subprocess.run([py, "-c", "import platform; print(platform."
                                         "python_version())"], capture_output=True,
                                        text=True).stdout.strip(),
                  changed=changed, added=added)
    # Test tools, kept from changing the stack too.
    _step(log, "install the test tools",
          pip + TEST_TOOLS + ["-c", str(_constraints_file(py, folder))], env)
    result["pip_check"] = _step(log, "pip check", [py, "-m", "pip", "check"], env,
                                check=False) == 0
    versions = _freeze(py)
    result["versions"] = {k: versions[k] for k in ("numpy", "scipy", "pandas", "matplotlib",
                                                   "nibabel", "keras", "tensorflow", "jax",
                                                   "torch", "tqdm", "ipywidgets", "ipython",
                                                   "ipykernel") if k in versions}
    result["tests"] = {}
    for backend in spec["backends"]:
        text_before = log.read_text()
        _step(log, f"pytest (KERAS_BACKEND={backend})",
              [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *MATRIX_TESTS],
              {**env, "KERAS_BACKEND": backend, "BOXLOC_DATA": str(folder / "data")},
              check=False)
        result["tests"][backend] = _pytest_counts(log.read_text()[len(text_before):])
    if spec["notebooks"]:
        result["notebooks"] = _execute_notebooks(py, {**env, "BOXLOC_DATA": str(folder / "data")},
                                                 log)
    result["minutes"] = round((time.perf_counter() - start) / 60)
    return result


def _constraints_file(python, folder):
    """The environment's installed versions as a constraint file (as the install cell)."""
    path = Path(folder) / "installed.txt"
    out = subprocess.run([python, "-c", f"import sys; sys.path.insert(0, {str(HERE)!r}); "
                          "import install_cell; print('\\n'.join(install_cell.installed_pins()))"],
                         check=True, capture_output=True, text=True).stdout
    path.write_text(out)
    return path


def matrix_row(result):
    """One README table row for a result dict."""
    if "skipped" in result:
        return f"| {result['environment']} | skipped: {result['skipped']} |"
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    changed = "n/a (fresh venv)" if result["changed"] is None else "nothing" if not \
        result["changed"] else "; ".join(f"{k} {v}" for k, v in result["changed"].items())
    tests = "; ".join(f"{b}: " + ", ".join(f"{n} {w}" for w, n in counts.items())
                      for b, counts in result["tests"].items())
    notebooks = "; ".join(f"{Path(k).parent.name}: {v}"
                          for k, v in result.get("notebooks", {}).items()) or "-"
    return (f"| {result['environment']} (Python {result['python']}) | {versions} | {changed} "
            f"| {'clean' if result['pip_check'] else 'FAILS'} | {tests} | {notebooks} "
            f"| {result['date']}, {result['minutes']} min |")


def main(argv):
    if argv[:1] == ["lock"]:
        lock()
        return 0
    if argv[:1] != ["run"]:
        print(__doc__)
        return 2
    names = argv[1:] or list(ENVIRONMENTS)
    unknown = [n for n in names if n not in ENVIRONMENTS]
    if unknown:
        print(f"unknown environment(s) {unknown}; choose from {list(ENVIRONMENTS)}")
        return 2
    (VENVS / "results").mkdir(parents=True, exist_ok=True)
    failed = False
    for name in names:
        result = run_environment(name)
        (VENVS / "results" / f"{name}.json").write_text(json.dumps(result, indent=1))
        print(matrix_row(result), flush=True)
        failed |= bool(result.get("changed")) or not result.get("pip_check", True) or any(
            set(counts) - {"passed", "skipped"} or not counts.get("passed")
            for counts in result.get("tests", {}).values()) \
            or any(v.startswith("failed") for v in result.get("notebooks", {}).values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
