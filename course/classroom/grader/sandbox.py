"""Run one submission's driver in a throwaway sandbox (trusted side).

Isolation levels, best first (``detect_level`` picks the best that works on this machine):

* ``namespaces-root``: the grader runs as root (a server, a container, Colab): fresh mount,
  PID, network, IPC and UTS namespaces; a new root on a size-capped tmpfs with read-only binds
  of the Python runtime and the library only; the student's kernel runs as an unprivileged uid
  of its own (one per worker slot) with no capabilities, the driver that records it as another
  (with only CAP_SETUID, CAP_SETGID and CAP_KILL, to start and stop the kernel).
* ``namespaces-user``: the same through an unprivileged user namespace (a laptop or a server
  where the instructor is not root; needs ``kernel.unprivileged_userns_clone``); driver and
  kernel run as the instructor's uid mapped to root inside (a user namespace maps only that
  one), with every capability dropped.
* ``namespaces-root-no-proc`` / ``namespaces-user-no-proc``: the same, where the runtime refuses
  to mount a fresh ``/proc`` (Colab since March 2025; a container whose ``/proc`` has entries
  mounted over, inside a user namespace): the sandbox then has an empty ``/proc``. Isolation is
  unchanged (the sandbox sees less); what is lost is whatever reads ``/proc`` inside it (``ps``,
  ``psutil``, a library's CPU-count fallback).
* ``none``: no isolation (no ``unshare`` or namespaces refused): the student's code runs with
  the grader's permissions. Refused unless the instructor passes ``--allow-unsandboxed``.

``detect_level`` decides by starting the real sandbox of each level in turn (its namespaces,
mounts, uid switch and a Python inside), not by a trial of ``unshare`` alone: on a runtime that
allows namespaces but not proc mounts that trial passes and every submission then fails.

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

from . import cgroups, events

HERE = Path(__file__).resolve().parent
MALFORMED_KEPT = 5                 # faults of a malformed report listed (the first decides)
INIT = HERE / "sandbox-init.sh"
KERNEL_FILES = ("kernel/startup.py", "kernel/audit.py", "kernel/recorder.py",
                "kernel/ipython_state.py", "plain.py")   # into /grader/kernel: what the kernel runs
LEVELS = ("namespaces-root", "namespaces-root-no-proc", "namespaces-user", "namespaces-user-no-proc",
          "none")                  # best first
NO_PROC = "-no-proc"
PROBE_OUTPUT = "boxloc-sandbox-ready"
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
FIRST_UID = 61000                  # worker slot k's kernel runs as uid FIRST_UID + k (root level)
FIRST_DRIVER_UID = 62000           # and its driver as FIRST_DRIVER_UID + k


@dataclass
class Limits:
    cell_timeout: int = 300                 # seconds per cell and per recorded case (then the
                                            # kernel is restarted)
    notebook_timeout: int = 1200            # seconds for the whole notebook (then it is killed)
    memory_mb: int = 8_000                  # address space per process (TensorFlow needs ~3-5 GB)
    sandbox_memory_mb: int = 6_000          # RAM of the whole sandbox (a control group, if any)
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
    capped: str = ""                        # "control group" or "per process" (no group here)
    oom_kills: int = 0                      # processes the sandbox's memory cap ended


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


def _own_uid(level):
    """Whether sandboxes of ``level`` run as a uid of their own (the grader is root)."""
    return level.startswith("namespaces-root")


def _unshare(level):
    """The ``unshare`` command line that opens a sandbox's namespaces at ``level``."""
    user = ["--user", "--map-root-user"] if level.startswith("namespaces-user") else []
    return ["unshare", *user, "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]


def _command(level, root, inputs, limits, slot, dirs, command):
    """The command line that builds a sandbox of ``level`` and runs ``command`` inside it (as
    the driver, for worker ``slot``)."""
    uids = [str(FIRST_UID + slot), str(FIRST_DRIVER_UID + slot)] if _own_uid(level) else ["-", "-"]
    return [*_unshare(level), "sh", str(INIT), str(root), str(inputs), str(limits.disk_mb), *uids,
            "none" if level.endswith(NO_PROC) else "fresh", *dirs, "--", *command]


def _grader_folder(folder):
    """What becomes /grader in the sandbox: the driver, and in kernel/ the files the kernel
    runs (readable, not writable, by the kernel), run/ for the kernel's sockets."""
    (folder / "kernel").mkdir(parents=True)
    (folder / "run").mkdir()
    shutil.copy(HERE / "driver.py", folder)
    for name in KERNEL_FILES:
        shutil.copy(HERE / name, folder / "kernel")


def probe_levels(levels=None):
    """``(level, None if a sandbox of that level starts here and runs Python, else why not)``
    for ``levels`` (default: every namespace level this user may try), best first, lazily."""
    if levels is None:
        levels = [level for level in LEVELS if level != "none"
                  and (os.geteuid() == 0 or not _own_uid(level))]
    missing = [tool for tool in ("unshare", "setpriv", "pivot_root") if not shutil.which(tool)]
    for level in levels:
        yield level, (f"{', '.join(missing)} not found (util-linux)" if missing
                      else _start_problem(level))


def detect_level(levels=None, problems=None):
    """The best isolation level whose sandbox starts here, or 'none'; ``problems`` (a dict), if
    given, receives why each better level did not start."""
    for level, problem in probe_levels(levels):
        if problem is None:
            return level
        if problems is not None:
            problems[level] = problem
    return "none"


def _start_problem(level):
    """Why a sandbox of ``level`` does not start and run Python here, or None."""
    python = str(Path(sys.prefix) / "bin" / "python")
    with tempfile.TemporaryDirectory(prefix="boxloc-probe-") as scratch:
        scratch = Path(scratch)
        _grader_folder(scratch / "in" / "grader")
        (scratch / "in" / "sandbox").mkdir()
        (scratch / "root").mkdir()
        command = _command(level, scratch / "root", scratch / "in", Limits(), 0,
                           runtime_dirs(), [python, "-c", f"print({PROBE_OUTPUT!r})"])
        try:
            done = subprocess.run(command, cwd=scratch, capture_output=True, text=True,
                                  timeout=120, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        except subprocess.TimeoutExpired:
            return "did not start within 120 s"
    if done.returncode == 0 and PROBE_OUTPUT in done.stdout:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return (" / ".join(lines[-2:]) or f"exit status {done.returncode}")[:300]


def available_memory_mb():
    """MemAvailable of /proc/meminfo in MB (None where unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def workers_that_fit(limits, requested=None, memory_mb=None, cpus=None):
    """``(workers, note)``: ``requested`` (default: one per CPU) lowered so that workers x
    ``limits.sandbox_memory_mb`` fits the available memory (at least 1); ``note`` says why when
    it was lowered, else ''."""
    memory_mb = available_memory_mb() if memory_mb is None else memory_mb
    wanted = requested or cpus or os.cpu_count() or 1
    if memory_mb is None:
        return wanted, ""
    fit = max(1, memory_mb // limits.sandbox_memory_mb)
    if wanted <= fit:
        return wanted, ""
    return fit, (f"{wanted} workers x {limits.sandbox_memory_mb} MB per sandbox do not fit in "
                 f"the {memory_mb} MB of memory available: grading with {fit}")


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


def _limit(limits, uid_level, group=None):
    """The resource limits, applied in the child before it starts the sandbox: it joins the
    sandbox's control group (``group``, if any: memory and processes of the whole sandbox), then
    sets the per-process rlimits. RLIMIT_NPROC counts every process of a uid: each of the slot's
    uids gets ``limits.processes``; without them (a user namespace) the instructor's uid that many
    more than it runs now."""
    processes = limits.processes if uid_level else \
        process_counts().get(os.getuid(), 0) + limits.processes

    def apply():
        os.setsid()
        if group is not None:
            group.join()
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
        grader = inputs / "grader"                  # /grader: the driver's (sandbox-init.sh)
        _grader_folder(grader)
        root.mkdir()
        (grader / "submission.ipynb").write_bytes(notebook_bytes)
        shutil.copytree(matplotlib_cache(), inputs / "sandbox" / ".matplotlib")   # /sandbox: the kernel's
        # the kernel's audit rules (kernel/audit.py): read-only system information (/sys, /proc,
        # what library imports read) is no finding; another process's /proc entries are
        job = {**job, "kernel_uid": FIRST_UID + slot if _own_uid(level) else None,
               "audit": {"allowed_read": [*dirs, "/sandbox", "/tmp", "/dev", "/proc", "/sys"],
                         "allowed_write": ["/sandbox", "/tmp", "/dev/null", "/dev/shm"],
                         "watched": [os.path.realpath(p) for p in protected] + [str(HERE)],
                         "library": dirs},
               "cell_timeout": limits.cell_timeout, "notebook_timeout": limits.notebook_timeout}
        (grader / "job.json").write_text(json.dumps(job))
        work = str(inputs / "sandbox") if level == "none" else "/sandbox"      # the kernel's folder
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": work, "LANG": "C.UTF-8",
               "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{work}/.matplotlib", "IPYTHONDIR": "/tmp/ipython",
               "JUPYTER_RUNTIME_DIR": "/tmp/jupyter", "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
               "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
               "BOXLOC_GRADING": "1",      # the notebooks' grading mode: no real training
               **({"BOXLOC_DATA": os.path.realpath(data_dir)} if data_dir else {})}
        python = str(Path(sys.prefix) / "bin" / "python")
        if level == "none":
            os.chmod(inputs, 0o700)
            command, cwd = [python, str(grader / "driver.py")], grader
        else:
            command = _command(level, root, inputs, limits, slot, dirs,
                               [python, "/grader/driver.py"])
            cwd = scratch
        group = cgroups.SandboxGroup.create(f"slot{slot}", limits.sandbox_memory_mb,
                                            limits.processes)
        try:
            result = _collect(command, cwd, env, limits, _own_uid(level), group)
            result.capped = "control group" if group else "per process"
            result.oom_kills = group.oom_kills() if group else 0
        finally:
            if group is not None:
                group.close()
        return result


def _collect(command, cwd, env, limits, uid_level, group=None):
    start, result = time.monotonic(), Result()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=_limit(limits, uid_level, group))
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
