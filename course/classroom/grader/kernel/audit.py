"""Runs in the student's kernel: the audit hook that tells a teaching assistant where to look.

``startup.py`` installs it before any student code (an audit hook cannot be removed). Each
finding is one JSON line ``{"kind", "event", "args"}`` written to the audit channel: the
kernel's end of a socket pair whose other end only the driver holds. A line written there has
left the kernel: the kernel cannot read it back, truncate or rewrite it, and a socket cannot be
reopened through ``/proc/self/fd``. The kernel can add lines or close its end; the driver
notices both (more lines than ``LINES``; no seal at the end: ``Channel.seal``).

Two sorts of events:

* worth a look whoever causes them: processes, signals, the network, audit hooks, a path
  outside the sandbox's own files, another process's ``/proc`` entries, the grader's files;
* worth a look only when the notebook's own code causes them: native code (ctypes), frames,
  the garbage collector's lists of objects, tracing, code objects changed. Libraries do these
  all the time (TensorFlow reads frames for its stack traces, NumPy loads ctypes), so the hook
  asks who called: the first frame outside ctypes, importlib and inspect (which only pass a
  call on) is the library's when its file lies in the read-only runtime, else the notebook's.

Standard library only: the tests import this file and call ``Rules.kind`` directly.
"""

import json
import os
import sys

LINES = 200                 # findings one kernel writes at most (the driver counts the rest)

ALWAYS = {"subprocess.Popen": "process", "os.system": "process", "os.posix_spawn": "process",
          "os.spawn": "process", "os.fork": "process", "os.forkpty": "process",
          "os.kill": "signal", "os.killpg": "signal", "signal.pthread_kill": "signal",
          "socket.connect": "network", "socket.getaddrinfo": "network",
          "sys.addaudithook": "audit_hook"}
FROM_NOTEBOOK = {"sys._getframe": "introspection", "sys._current_frames": "introspection",
                 "gc.get_objects": "introspection", "gc.get_referrers": "introspection",
                 "gc.get_referents": "introspection", "sys.settrace": "introspection",
                 "sys.setprofile": "introspection", "code.__new__": "introspection"}
FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame"}      # object.__getattr__
CODE_ATTRIBUTES = {"__code__", "__defaults__", "__kwdefaults__"}        # object.__setattr__
# event -> which argument is the path
PATH_EVENTS = {"open": 0, "os.listdir": 0, "os.scandir": 0, "os.remove": 0, "os.rename": 0,
               "os.rmdir": 0, "shutil.rmtree": 0, "os.symlink": 1, "os.link": 1, "os.chmod": 0,
               "os.chown": 0, "os.truncate": 0, "os.mkdir": 0, "os.chdir": 0, "os.utime": 0}
READING = {"os.listdir", "os.scandir", "os.chdir"}
# what /proc/<pid>/ shows of a process beyond what ps shows (psutil reads others' stat: fine)
PROCESS_INSIDES = {"mem", "environ", "fd", "fdinfo", "map_files", "maps", "smaps", "smaps_rollup",
                   "pagemap", "cwd", "root", "exe", "auxv", "syscall", "stack", "io"}


def under(path, prefixes):
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class Rules:
    """Which kind of finding an audit event is, if any.

    ``allowed_read`` / ``allowed_write``: where the notebook may read or write unflagged (the
    runtime, its own folders, read-only system information such as /sys and /proc);
    ``watched``: the course's own paths (``course_access``); ``grader``: the driver's folder
    in the sandbox (``recorder_access``, but for reading ``grader_code``, the files of this
    folder the kernel runs); ``library``: folders whose code is a library's, not the notebook's.
    """

    def __init__(self, allowed_read, allowed_write, watched, grader, grader_code, library):
        self.allowed_read, self.allowed_write = list(allowed_read), list(allowed_write)
        self.watched, self.grader, self.grader_code = list(watched), grader, grader_code
        self.library = [*library, grader_code]
        stdlib = os.path.dirname(os.__file__)
        self.passing = (os.path.join(stdlib, "ctypes") + "/", os.path.join(stdlib, "importlib") + "/",
                        os.path.join(stdlib, "inspect.py"), "<frozen importlib.")

    def kind(self, event, args, caller=None):
        """The finding's kind for ``event`` with ``args``, raised while ``caller`` (a frame)
        ran; None when it is nothing a teaching assistant needs to see."""
        if event in ALWAYS or event.startswith("os.exec"):
            return ALWAYS.get(event, "process")
        if event in PATH_EVENTS:
            return self.path_kind(event, args)
        kind = FROM_NOTEBOOK.get(event)
        if event.startswith("ctypes."):
            kind = "native_code"
        elif event == "object.__getattr__" and len(args) > 1 and args[1] in FRAME_ATTRIBUTES:
            kind = "introspection"
        elif event == "object.__setattr__" and len(args) > 1 and args[1] in CODE_ATTRIBUTES:
            kind = "introspection"
        return kind if kind and self.from_notebook(caller) else None

    def path_kind(self, event, args):
        index = PATH_EVENTS[event]
        path = args[index] if len(args) > index else None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return None                                 # a file descriptor, not a path
        path = os.path.normpath(os.path.join(os.getcwd(), path))
        if under(path, [*self.allowed_write, "/proc", "/dev/fd"]):
            path = os.path.realpath(path)               # a link the notebook made, /proc/self
        if event == "os.mkdir" and os.path.isdir(path):
            return None                                 # mkdir(exist_ok=True) of a folder
        writing = event not in READING and (event != "open" or opens_for_writing(args))
        if under(path, self.watched):
            return "course_access"
        if under(path, [self.grader]):
            return "recorder_access" if writing or not under(path, [self.grader_code]) else None
        if other_process(path):
            return "process_access"
        if not under(path, self.allowed_write if writing else self.allowed_read):
            return "write_outside" if writing else "read_outside"
        return None

    def from_notebook(self, frame):
        """Whether the code behind an event is the notebook's (a cell, a file it wrote, code
        it built) rather than a library's."""
        while frame is not None and frame.f_code.co_filename.startswith(self.passing):
            frame = frame.f_back
        if frame is None:
            return False
        name = frame.f_code.co_filename
        return not (name.startswith("<frozen ") or under(name, self.library))


def opens_for_writing(args):
    """``open`` events: builtins.open gives a mode text, os.open its flags."""
    mode = args[1] if len(args) > 1 else None
    flags = args[2] if len(args) > 2 else 0
    return (isinstance(mode, str) and any(m in mode for m in "wax+")) or \
        (mode is None and isinstance(flags, int) and flags & 3 != 0)


def other_process(path):
    """True for the insides (memory, descriptors, environment, ...) of another process than
    this one under /proc: the driver's, a sibling's."""
    parts = path.split("/")
    return len(parts) > 3 and parts[1] == "proc" and parts[2].isdigit() and \
        int(parts[2]) != os.getpid() and any(part in PROCESS_INSIDES for part in parts[3:])


def shown_args(args):
    """The event's arguments for the report: plain values as repr, anything else as its type
    (never the notebook's own ``__repr__``, which would run inside the hook)."""
    parts = []
    for arg in args if type(args) is tuple else ():
        if type(arg) in (str, bytes, int, float, bool, type(None)):
            parts.append(repr(arg)[:120])
        else:
            parts.append(f"<{type(arg).__name__}>")
    return "(" + ", ".join(parts) + ")"


class Channel:
    """The kernel's end of the audit socket: one JSON line per finding, at most ``LINES``."""

    def __init__(self, fd):
        self.fd, self.count = fd, 0
        self.identity = self.current_identity()

    def current_identity(self):
        """(device, inode) of what ``fd`` is now: once the notebook closed or replaced the
        channel, its number may name another file, which must not receive these lines."""
        try:
            info = os.fstat(self.fd)
            return info.st_dev, info.st_ino
        except OSError:
            return None

    def finding(self, kind, event, args):
        if self.count < LINES:
            self.count += 1
            self.send({"kind": kind, "event": event, "args": shown_args(args)})

    def seal(self, nonce):
        """The last line of a session, asked for by the driver: it shows that this hook, and
        its channel, still worked at the end."""
        self.send({"kind": "seal", "nonce": str(nonce)})

    def send(self, item):
        if self.identity is None or self.current_identity() != self.identity:
            return                                      # closed by the notebook: see the seal
        data = (json.dumps(item) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass                                        # closed by the notebook: see the seal


def install(rules, channel):
    """Add the hook (for good: Python offers no way to remove one)."""
    busy = [False]

    def hook(event, args):
        if busy[0]:
            return                                      # an event of the hook's own work
        busy[0] = True
        try:
            kind = rules.kind(event, args, sys._getframe(1))
            if kind:
                channel.finding(kind, event, args)
        except Exception:
            pass
        finally:
            busy[0] = False

    sys.addaudithook(hook)
