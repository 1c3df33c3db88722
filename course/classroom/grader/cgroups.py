"""Memory and process caps for a whole sandbox, not per process (trusted side).

``RLIMIT_AS`` caps each process: a notebook with four children held 6.1 GB under an 8 GB
per-process cap, and two such sandboxes could push the host into its OOM killer, which may kill
a classmate's kernel. A control group caps the sandbox's processes *together*: past the cap the
kernel's OOM killer picks a process of that sandbox only, and ``fork`` fails past the process cap.

``SandboxGroup.create(name, memory_mb, processes)`` makes one group per sandbox, on cgroup v2
(``memory.max``, ``pids.max``, ``memory.swap.max``) or on cgroup v1's memory and pids hierarchies
(``memory.limit_in_bytes``, ``memory.memsw.limit_in_bytes`` where swap accounting exists,
``pids.max``), whichever the host lets this process write; ``join(pid)`` puts the sandbox's first
process in it before it runs anything (its children inherit it); ``close()`` kills what is left
and removes the group; ``oom_kills()`` says whether the cap was hit. Where neither works (not
root and no delegated group, a container without them), ``create`` returns None and the per-process
rlimits of ``sandbox.Limits`` are all there is: the README's table says so.
"""

import os
import signal
import time
from pathlib import Path

PREFIX = "boxloc-sandbox"


def _mounts():
    """``{(type, controllers): mount point}`` of this process's cgroup file systems."""
    found = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split(" - ", 1)
        if len(fields) != 2:
            continue
        point = fields[0].split()[4]
        kind, _, options = (fields[1].split() + ["", ""])[:3]
        if kind == "cgroup2":
            found[("cgroup2", "")] = Path(point)
        elif kind == "cgroup":
            for controller in ("memory", "pids"):
                if controller in options.split(","):
                    found[("cgroup", controller)] = Path(point)
    return found


def _own_path(controller):
    """This process's group in a hierarchy (``/proc/self/cgroup``): '' for cgroup v2."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, names, path = line.split(":", 2)
        if (controller == "" and number == "0") or controller in names.split(","):
            return path.lstrip("/")
    return None


def _write(path, value):
    Path(path).write_text(str(value))


class SandboxGroup:
    """One sandbox's control group(s): a v2 group, or a v1 memory group and a v1 pids group."""

    def __init__(self, folders, version):
        self.folders, self.version = folders, version

    @classmethod
    def create(cls, name, memory_mb, processes, mounts=None):
        """A new group capping ``memory_mb`` (RAM and swap) and ``processes`` for a sandbox, or
        None where this host does not let us make one."""
        mounts = _mounts() if mounts is None else mounts
        for make in (cls._v2, cls._v1):
            try:
                group = make(mounts, f"{PREFIX}-{os.getpid()}-{name}", memory_mb, processes)
            except (OSError, ValueError):
                group = None
            if group is not None:
                return group
        return None

    @classmethod
    def _v2(cls, mounts, name, memory_mb, processes):
        base = mounts.get(("cgroup2", ""))
        own = _own_path("")
        if base is None or own is None:
            return None
        parent = base / own
        enabled = (parent / "cgroup.subtree_control").read_text().split()
        if not {"memory", "pids"} <= set(enabled):
            # controllers are enabled for children only from a group with no process of its
            # own; where ours has processes (it holds us), this host has not delegated them
            _write(parent / "cgroup.subtree_control", "+memory +pids")
        folder = parent / name
        folder.mkdir()
        group = cls([folder], 2)
        try:
            _write(folder / "memory.max", memory_mb * 1024 * 1024)
            if (folder / "memory.swap.max").exists():
                _write(folder / "memory.swap.max", 0)
            _write(folder / "pids.max", processes)
        except OSError:
            group.close()
            raise
        return group

    @classmethod
    def _v1(cls, mounts, name, memory_mb, processes):
        memory, pids = mounts.get(("cgroup", "memory")), mounts.get(("cgroup", "pids"))
        own_memory, own_pids = _own_path("memory"), _own_path("pids")
        if None in (memory, pids, own_memory, own_pids):
            return None
        folders = [memory / own_memory / name, pids / own_pids / name]
        for folder in folders:
            folder.mkdir()
        group = cls(folders, 1)
        try:
            limit = memory_mb * 1024 * 1024
            _write(folders[0] / "memory.limit_in_bytes", limit)
            if (folders[0] / "memory.memsw.limit_in_bytes").exists():
                _write(folders[0] / "memory.memsw.limit_in_bytes", limit)
            _write(folders[1] / "pids.max", processes)
        except OSError:
            group.close()
            raise
        return group

    def join(self, pid=0):
        """Put process ``pid`` (0: the caller; a child calls it before exec) in the group."""
        for folder in self.folders:
            _write(folder / "cgroup.procs", pid or os.getpid())

    def pids(self):
        found = set()
        for folder in self.folders:
            try:
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def oom_kills(self):
        """How many processes the OOM killer ended in this group (0 when unknown)."""
        events = self.folders[0] / ("memory.events" if self.version == 2 else "memory.oom_control")
        try:
            for line in events.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def close(self):
        """Kill whatever still runs in the group and remove it (a few tries: the kernel frees a
        group only once its last process is reaped)."""
        for _ in range(50):
            left = self.pids()
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for folder in self.folders:
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    continue
            if not any(folder.exists() for folder in self.folders):
                return
            time.sleep(0.05)
