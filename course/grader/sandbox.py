"""Run one submission's driver in a throwaway sandbox (trusted side).

Isolation levels, best first (``detect_level`` picks the best that works on this machine):

* ``namespaces-root``: the grader runs as root (a server, a container, Colab): fresh mount,
  PID, network, IPC and UTS namespaces; a new root on a size-capped tmpfs with read-only binds
  of the Python runtime and the library only; the driver and the student's kernel run as an
  unprivileged uid of their own (one per worker slot) with no capabilities.
* ``namespaces-user``: the same through an unprivileged user namespace (a laptop or a server
  where the instructor is not root; needs ``kernel.unprivileged_userns_clone``); the kernel
  runs as the instructor's uid mapped to root inside, with every capability dropped.
* ``none``: no isolation (no ``unshare`` or namespaces refused): the student's code runs with
  the grader's permissions. Refused unless the instructor passes ``--allow-unsandboxed``.

In every level: resource limits (CPU seconds, address space, processes, file size, open files,
no core dumps), a wall-clock limit that kills the whole process tree, and a cap on what the
grader reads back. Nothing the sandbox writes outlives it except what it sends on its
standard output, which ``run`` reads as JSON lines, strictly (``events.py``).
"""

import functools
import itertools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import events

HERE = Path(__file__).resolve().parent
MALFORMED_KEPT = 5                 # faults of a malformed report listed (the first decides)
INIT = HERE / "sandbox-init.sh"
DRIVER_FILES = ("driver.py", "plain.py")
LEVELS = ("namespaces-root", "namespaces-user", "none")
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
FIRST_UID = 61000                  # worker slot k runs as uid FIRST_UID + k (root level)


@dataclass
class Limits:
    cell_timeout: int = 300                 # seconds per cell and per recorded case (then the
                                            # kernel is restarted)
    notebook_timeout: int = 1200            # seconds for the whole notebook (then it is killed)
    memory_mb: int = 8_000                  # address space per process (TensorFlow needs ~3-5 GB)
    cpu_seconds: int = 3600                 # CPU time per process
    processes: int = 1024                   # processes and threads of the sandbox's uid
    file_mb: int = 256                      # largest file the sandbox may write
    disk_mb: int = 512                      # its whole writable tmpfs
    output_mb: int = 64                     # what the grader reads back


@dataclass
class Result:
    events: list = field(default_factory=list)
    returncode: int = None
    seconds: float = 0.0
    killed: str = ""                        # "", "wall_clock", "output_flood"
    stderr: str = ""
    malformed: list = field(default_factory=list)   # "line N: fault" of lines that are no event


def runtime_dirs():
    """Read-only directories the sandbox needs: system, Python and the installed library."""
    import boxloc
    dirs = [d for d in SYSTEM_DIRS if os.path.lexists(d)]
    dirs += [os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)]
    dirs.append(str(Path(boxloc.__file__).resolve().parents[1]))    # editable installs
    return sorted(set(dirs))


@functools.lru_cache(maxsize=None)
def matplotlib_cache():
    """A matplotlib font cache built once per grading run (copied into each sandbox, so that no
    kernel has to run fc-list or rebuild it)."""
    folder = Path(tempfile.mkdtemp(prefix="boxloc-mpl-"))
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], check=True,
                   env={**os.environ, "MPLCONFIGDIR": str(folder)}, capture_output=True)
    return folder


def check_mounts(dirs, protected):
    """Refuse to expose a directory that holds the course (or is inside it)."""
    for d in dirs:
        for p in protected:
            p = os.path.realpath(p)
            if p == d or p.startswith(d.rstrip("/") + "/") or d.startswith(p.rstrip("/") + "/"):
                if d in SYSTEM_DIRS:
                    raise SystemExit(f"the course folder {p} lies under {d}: move it elsewhere "
                                     "(e.g. your home or /srv) so the sandbox can hide it")
                raise SystemExit(f"cannot sandbox: the library/runtime folder {d} contains or "
                                 f"lies inside the course folder {p}")


def _unshare(level):
    """The ``unshare`` command line that opens a sandbox's namespaces at ``level``."""
    user = ["--user", "--map-root-user"] if level == "namespaces-user" else []
    return ["unshare", *user, "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]


def _command(level, root, inputs, limits, uid, dirs, python):
    return [*_unshare(level), "sh", str(INIT), str(root), str(inputs), str(limits.disk_mb),
            str(uid) if level == "namespaces-root" else "-", *dirs, "--",
            python, "/sandbox/driver.py"]


def detect_level():
    """The best isolation level that works here (a trial run of its namespaces), or 'none'."""
    if shutil.which("unshare") and shutil.which("setpriv") and shutil.which("pivot_root"):
        candidates = (["namespaces-root"] if os.geteuid() == 0 else []) + ["namespaces-user"]
        for level in candidates:
            if subprocess.run([*_unshare(level), "true"], capture_output=True).returncode == 0:
                return level
    return "none"


def process_counts():
    """{uid: processes and threads it runs now}, from /proc."""
    counts = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            uid = int(fields["Uid"].split()[0])
            counts[uid] = counts.get(uid, 0) + int(fields.get("Threads", "1"))
        except (OSError, KeyError, ValueError):
            continue
    return counts


def _limit(limits, uid_level):
    """The resource limits, applied in the child before it starts the sandbox. RLIMIT_NPROC
    counts every process of a uid: the slot's own uid gets ``limits.processes``; without one
    (a user namespace) the instructor's uid gets that many more than it runs now."""
    processes = limits.processes if uid_level else \
        process_counts().get(os.getuid(), 0) + limits.processes

    def apply():
        os.setsid()
        mb = 1024 * 1024
        for name, value in ((resource.RLIMIT_AS, limits.memory_mb * mb),
                            (resource.RLIMIT_CPU, limits.cpu_seconds),
                            (resource.RLIMIT_FSIZE, limits.file_mb * mb),
                            (resource.RLIMIT_NOFILE, 1024), (resource.RLIMIT_CORE, 0),
                            (resource.RLIMIT_NPROC, processes)):
            resource.setrlimit(name, (value, value))
    return apply


def run(job, notebook_bytes, level, limits, slot=0, protected=(), data_dir=None):
    """Execute one submission: ``job`` (dict for job.json) and the notebook's bytes.
    ``data_dir``: the dataset cache, shown read-only as $BOXLOC_DATA (prepared beforehand).
    Returns a Result with the driver's events (parsed JSON lines, capped)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    dirs = runtime_dirs() + ([os.path.realpath(data_dir)] if data_dir else [])
    check_mounts(dirs, protected)
    with tempfile.TemporaryDirectory(prefix="boxloc-sandbox-") as scratch:
        scratch = Path(scratch)
        inputs, root = scratch / "in", scratch / "root"
        inputs.mkdir()
        root.mkdir()
        for name in DRIVER_FILES:
            shutil.copy(HERE / name, inputs / name)
        (inputs / "submission.ipynb").write_bytes(notebook_bytes)
        shutil.copytree(matplotlib_cache(), inputs / ".matplotlib")
        job = {**job, "allowed_read": [*dirs, "/sandbox", "/tmp", "/dev", "/proc"],
               "allowed_write": ["/sandbox", "/tmp", "/dev/null", "/dev/shm"],
               "watched": [os.path.realpath(p) for p in protected] + [str(HERE)],
               "cell_timeout": limits.cell_timeout, "notebook_timeout": limits.notebook_timeout}
        (inputs / "job.json").write_text(json.dumps(job))
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/sandbox", "LANG": "C.UTF-8",
               "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/sandbox/.matplotlib", "IPYTHONDIR": "/tmp/ipython",
               "JUPYTER_RUNTIME_DIR": "/tmp/jupyter", "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
               "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
               "BOXLOC_GRADING": "1",      # the notebooks' grading mode: no real training
               **({"BOXLOC_DATA": os.path.realpath(data_dir)} if data_dir else {})}
        python = str(Path(sys.prefix) / "bin" / "python")
        uid = FIRST_UID + slot
        if level == "none":
            os.chmod(inputs, 0o700)
            command, cwd = [python, str(inputs / "driver.py")], inputs
        else:
            command, cwd = _command(level, root, inputs, limits, uid, dirs, python), scratch
        return _collect(command, cwd, env, limits, level == "namespaces-root")


def _collect(command, cwd, env, limits, uid_level):
    start, result = time.monotonic(), Result()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=_limit(limits, uid_level))
    budget = limits.output_mb * 1024 * 1024
    errors = []
    drain = threading.Thread(target=lambda: errors.append(process.stderr.read(65536)), daemon=True)
    drain.start()
    timer = threading.Timer(limits.notebook_timeout + 60, _kill, (process, result, "wall_clock"))
    timer.start()
    try:
        for number in itertools.count(1):
            line = process.stdout.readline(budget + 1)     # never more than what is left
            if not line:
                break
            budget -= len(line)
            if budget < 0:
                _kill(process, result, "output_flood")
                result.malformed.append(f"more than {limits.output_mb} MB of report")
                break
            _read_event(line, number, result)
    finally:
        timer.cancel()
        _kill(process, result, "")
        process.wait()
        drain.join(5)
    result.returncode, result.seconds = process.returncode, time.monotonic() - start
    result.stderr = (errors[0] if errors else b"").decode(errors="replace")[-4000:]
    return result


def _read_event(line, number, result):
    """Keep the event of one line, or note why the line is none (a last line cut short by a
    kill is no fault: the wall clock stopped the writer)."""
    try:
        result.events.append(events.parse(line))
    except events.Malformed as fault:
        if result.killed and not line.endswith(b"\n"):
            return
        if len(result.malformed) < MALFORMED_KEPT:
            result.malformed.append(f"line {number}: {fault}")


def _kill(process, result, reason):
    if process.poll() is None:
        if reason and not result.killed:
            result.killed = reason
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
