"""The code that runs in the student's kernel (``classroom/grader/kernel/``), exercised here,
in-process and without a sandbox: the audit hook's rules and channel, the recorder, the startup
file with its comm handler, and the driver's end of the audit channel. What only a real
sandbox shows (uids, capabilities, signals, /proc) is tested at every isolation level in
test_grader_parts.py and by the attack notebooks of test_hostile.py.

An audit hook cannot be removed, so every test that installs one does it in a subprocess."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from classroom.grader import driver, plain, sandbox
from classroom.grader.kernel import audit, recorder
from course_helpers import COURSE

KERNEL = COURSE / "classroom" / "grader" / "kernel"
STDLIB = os.path.dirname(os.__file__)
RULES = audit.Rules(allowed_read=["/usr", "/sandbox", "/tmp", "/dev", "/proc", "/sys"],
                    allowed_write=["/sandbox", "/tmp", "/dev/null", "/dev/shm"],
                    watched=["/srv/course"], grader="/grader", grader_code="/grader/kernel",
                    library=["/usr", STDLIB])


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter that imports the course package; its stdout."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, cwd="/tmp",
                          env={**os.environ, "PYTHONPATH": str(COURSE), "HOME": "/tmp", **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# ---------------------------------------------------------------- which events are findings

@pytest.mark.parametrize("event, args, kind", [
    ("os.listdir", ("/sys/bus/pci/devices",), None),          # TensorFlow's import, for GPUs
    ("open", ("/proc/self/status", "r", 0), None),
    ("open", ("/proc/cpuinfo", "r", 0), None),
    ("open", ("/proc/1/stat", "r", 0), None),                  # what ps shows (psutil reads it)
    ("open", ("/usr/share/zoneinfo/UTC", "rb", 0), None),
    ("open", ("/proc/1/mem", "rb", 0), "process_access"),       # the driver is PID 1
    ("open", ("/proc/1/environ", "rb", 0), "process_access"),
    ("os.listdir", ("/proc/1/fd",), "process_access"),
    ("open", ("/proc/1/task/1/mem", "rb", 0), "process_access"),
    ("open", ("/proc/self/../1/mem", "rb", 0), "process_access"),
    ("open", ("/usr/lib/x.py", "w", 0), "write_outside"),
    ("open", ("/usr/lib/x.py", None, os.O_RDWR), "write_outside"),   # os.open: flags
    ("open", ("/root/notes", "r", 0), "read_outside"),
    ("open", ("/srv/course/hidden/01_anchors.py", "r", 0), "course_access"),
    ("open", ("/grader/job.json", "r", 0), "recorder_access"),
    ("open", ("/grader/kernel/recorder.py", "r", 0), None),     # the recorder reading itself
    ("open", ("/grader/kernel/recorder.py", "a", 0), "recorder_access"),
    ("os.truncate", ("/sandbox/model.keras", 0), None),
    ("open", (7, "r", 0), None),                                # a descriptor, not a path
    ("os.kill", (1, 9), "signal"),
    ("subprocess.Popen", ("sh", ["sh"], None, None), "process"),
    ("os.exec", ("/bin/sh", ["sh"], None), "process"),
    ("socket.connect", (None, ("192.0.2.1", 443)), "network"),
    ("import", ("numpy", None, [], [], []), None)])
def test_the_audit_rules(event, args, kind):
    assert RULES.kind(event, args) == kind


def test_a_link_the_notebook_made_is_followed(tmp_path):
    rules = audit.Rules(["/usr"], [str(tmp_path)], [], "/grader", "/grader/kernel", ["/usr"])
    (tmp_path / "innocent").symlink_to("/proc/1/environ")
    assert rules.kind("open", (str(tmp_path / "innocent"), "rb", 0)) == "process_access"


def frame_of(*filenames):
    """The innermost frame of nested calls whose code comes from ``filenames`` (outermost
    first): the stack an audit hook sees when the last of them causes an event."""
    source = "import sys\ndef call(rest):\n    return rest[0](rest[1:]) if rest else sys._getframe()\n"
    functions = []
    for name in filenames:
        namespace = {}
        exec(compile(source, name, "exec"), namespace)
        functions.append(namespace["call"])
    return functions[0](functions[1:])


CELL = "/tmp/ipykernel_7/3141.py"                       # where IPython compiles a cell
LIBRARY = "/usr/lib/python3/dist-packages/tensorflow/x.py"


@pytest.mark.parametrize("filenames, notebook", [
    ((CELL,), True),
    ((CELL, LIBRARY), False),                            # a library called by the notebook
    ((CELL, f"{STDLIB}/ctypes/__init__.py"), True),      # ctypes only passes the call on
    ((CELL, "<frozen importlib._bootstrap>", f"{STDLIB}/ctypes/__init__.py"), True),
    ((LIBRARY, f"{STDLIB}/ctypes/__init__.py"), False),
    ((CELL, f"{STDLIB}/inspect.py"), True),             # inspect.currentframe()
    (("<string>",), True),                               # code the notebook built
    (("<frozen os>",), False),
    ((CELL, "/grader/kernel/recorder.py"), False)])
def test_whose_code_caused_an_event(filenames, notebook):
    frame = frame_of(*filenames)
    assert RULES.from_notebook(frame) == notebook
    for event, args in [("ctypes.dlsym", (None, "syscall")), ("sys._getframe", (frame,)),
                        ("gc.get_referrers", ((),)), ("sys.settrace", ()),
                        ("object.__getattr__", (None, "tb_frame")),
                        ("object.__setattr__", (None, "__code__", None))]:
        expected = ("native_code" if event.startswith("ctypes") else "introspection") if notebook else None
        assert RULES.kind(event, args, frame) == expected, event


def test_reading_other_attributes_or_setting_a_class_attribute_is_no_finding():
    frame = frame_of(CELL)
    assert RULES.kind("object.__getattr__", (None, "__code__"), frame) is None
    assert RULES.kind("object.__setattr__", (type, "__module__", "x"), frame) is None


def test_arguments_are_shown_without_running_the_notebooks_repr():
    class Loud:
        def __repr__(self):
            raise AssertionError("the hook ran the notebook's __repr__")
    assert audit.shown_args(("/tmp/x", Loud(), 3)) == "('/tmp/x', <Loud>, 3)"


# ---------------------------------------------------------------- the channel, both ends

def test_the_kernel_cannot_take_back_what_it_wrote_and_the_driver_counts_the_rest():
    channel = driver.AuditChannel()
    kernel = os.dup(channel.kernel_fd)                   # what the kernel process holds
    channel.handed_over()
    writer = audit.Channel(kernel)
    for n in range(audit.LINES + 5):
        writer.finding("process", "os.fork", (n,))      # the hook stops at LINES
    writer.seal("nonce-1")
    with pytest.raises(OSError):
        os.ftruncate(kernel, 0)
    with pytest.raises(OSError):                         # a socket is not reopened by path
        open(f"/proc/self/fd/{kernel}", "rb")
    with socket.socket(fileno=os.dup(kernel)) as end:     # the driver sends nothing back
        assert end.recv(1 << 16, socket.MSG_DONTWAIT) == b""
    for n in range(3):                                   # lines the hook did not write
        os.write(kernel, b'{"kind": "forged"}\n')
    os.write(kernel, b"not json\n")
    os.close(kernel)
    channel.close()
    assert len(channel.lines) == driver.AUDIT_LINES == audit.LINES
    assert json.loads(channel.lines[0]) == {"kind": "process", "event": "os.fork", "args": "(0)"}
    assert channel.overflow == 4 and channel.seals == {"nonce-1"}


def test_a_replaced_channel_gets_no_more_lines(tmp_path):
    first, second = socket.socketpair()
    writer = audit.Channel(second.fileno())
    writer.finding("signal", "os.kill", (1, 9))
    elsewhere = os.open(tmp_path / "other", os.O_WRONLY | os.O_CREAT)
    os.dup2(elsewhere, second.fileno())                  # the notebook redirects the hook
    writer.finding("signal", "os.kill", (1, 9))
    writer.seal("n")
    assert first.recv(1 << 16).count(b"\n") == 1
    assert (tmp_path / "other").read_bytes() == b""      # nothing went to the new file
    for s in (first, second):
        s.close()
    os.close(elsewhere)


# ---------------------------------------------------------------- the hook, installed

NOTEBOOK_ROUTES = """
import ctypes, gc, os, sys
ctypes.CDLL(None).getpid()
gc.get_objects()
sys._getframe().f_back
try:
    open('/proc/1/environ', 'rb')
except OSError:
    pass
os.kill(os.getpid(), 0)
"""


def test_honest_imports_raise_nothing_and_the_notebooks_own_routes_are_found():
    """TensorFlow's import (which scans /sys/bus/pci/devices, loads native code and reads
    frames) under the rules a sandbox gets raises no finding; a notebook cell that uses ctypes,
    the garbage collector, frames, another process's /proc and a signal raises each."""
    rules = {"allowed_read": [*sandbox.runtime_dirs(), "/sandbox", "/tmp", "/dev", "/proc", "/sys"],
             "allowed_write": ["/sandbox", "/tmp", "/dev/null", "/dev/shm"], "watched": [str(COURSE / "hidden")],
             "grader": "/grader", "grader_code": "/grader/kernel", "library": sandbox.runtime_dirs()}
    out = run_python(f"""
        import json, platform, socket, sys
        from classroom.grader.kernel import audit
        sys.path.remove({str(COURSE)!r})               # as in the sandbox: no course on the path
        platform.processor()                          # as in a kernel: asked (uname -p) before any cell
        mine, theirs = socket.socketpair()
        channel = audit.Channel(theirs.fileno())
        audit.install(audit.Rules(**json.loads({json.dumps(rules)!r})), channel)
        import tensorflow as tf
        tf.constant(1.0) + 1
        channel.seal("imported")
        exec(compile({NOTEBOOK_ROUTES!r}, "/tmp/ipykernel_7/1.py", "exec"), {{}})
        theirs.close()
        data = b""
        while chunk := mine.recv(1 << 16):
            data += chunk
        print(json.dumps([json.loads(line) for line in data.decode().splitlines()]))
        """, TF_CPP_MIN_LOG_LEVEL="3")
    lines = json.loads(out.strip().splitlines()[-1])
    seal = lines.index({"kind": "seal", "nonce": "imported"})
    assert lines[:seal] == []
    assert {line["kind"] for line in lines[seal + 1:]} == {"native_code", "introspection",
                                                           "process_access", "signal"}


# ---------------------------------------------------------------- the recorder and the startup

def test_the_recorder_records_the_notebooks_own_names():
    namespace = {"double": lambda x: 2 * x, "answer": "b", "boxes": lambda: np.eye(2),
                 "leaves": lambda: sys.exit(3), "odd": lambda: object(),
                 # what a notebook might bind to catch a recorder that looked names up here
                 "open": print, "exec": print, "compile": print, "_boxloc_record": print}
    record = lambda name, case=None, calls=True, helper="": recorder.record(
        {"name": name, "calls": calls, "helper": helper, "case": case}, namespace, plain)
    assert record("double", [21]) == {"ok": 42}
    assert record("answer", calls=False) == {"ok": "b"}
    assert plain.from_plain(record("boxes", [])["ok"]).tolist() == [[1, 0], [0, 1]]
    assert record("double", [3], helper="def record_case(f, x):\n    return f(x) + 1") == {"ok": 7}
    assert record("missing", [1]) == {"error": "NameError: missing is not defined"}
    assert record("leaves", []) == {"error": "SystemExit: 3"}
    assert list(record("odd", [])) == ["rejected"]


PATCHING_NOTEBOOK = """
import builtins, io
real_open = builtins.open
def forged_open(path, *args, **kwargs):
    if str(path).endswith("recorder.py"):
        return io.StringIO("def record(*args):\\n    return {'ok': 'forged'}\\n")
    return real_open(path, *args, **kwargs)
builtins.open = forged_open
_boxloc_record = exec = compile = lambda *args, **kwargs: {'ok': 'forged'}
def double(x):
    return 2 * x
"""


def test_the_startup_leaves_no_name_and_its_recorder_ignores_what_the_notebook_patches(tmp_path):
    """startup.py under a real IPython shell (with a stand-in for the kernel's comm manager):
    nothing of the grader stays in the notebook's namespace; a notebook that patches
    builtins.open to serve a forged recorder, and rebinds the old recorder's names, still gets
    its own answers recorded; IPython's state is reported."""
    out = run_python(f"""
        import json, os, shutil, socket, types
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        targets = {{}}
        shell.kernel = types.SimpleNamespace(comm_manager=types.SimpleNamespace(
            register_target=lambda name, handler: targets.update({{name: handler}})))
        mine, theirs = socket.socketpair()
        folder = {str(tmp_path)!r}                      # as the sandbox's /grader/kernel
        for name in ("startup.py", "audit.py", "recorder.py", "ipython_state.py"):
            shutil.copy(os.path.join({str(KERNEL)!r}, name), folder)
        shutil.copy({str(KERNEL.parent / "plain.py")!r}, folder)
        rules = dict(allowed_read=["/"], allowed_write=["/"], watched=[], grader="/grader",
                     grader_code="/grader/kernel", library=["/"])
        os.environ["BOXLOC_KERNEL"] = json.dumps({{"folder": folder, "target": "t",
                                                  "audit_fd": theirs.fileno(), "rules": rules}})
        before = set(shell.user_ns)
        shell.safe_execfile(os.path.join(folder, "startup.py"), shell.user_ns, raise_exceptions=True)
        left = sorted(set(shell.user_ns) - before)
        shell.run_cell({PATCHING_NOTEBOOK!r})
        sent = []
        comm = types.SimpleNamespace(send=sent.append, close=lambda: None)
        ask = lambda data: targets["t"](comm, {{"content": {{"data": data}}}}) or sent.pop()["result"]
        answer = ask({{"request": "record", "name": "double", "calls": True, "helper": "", "case": [4]}})
        state = ask({{"request": "state"}})
        print(json.dumps([left, answer, state, list(targets)]))
        """)
    left, answer, state, targets = json.loads(out.strip().splitlines()[-1])
    assert left == [] and targets == ["t"]
    assert answer == {"ok": 8}
    assert state["ast_transformers"] == 0 and state["showtraceback"] is True


# ---------------------------------------------------------------- the driver's reading

@pytest.mark.parametrize("result, status, recorded", [
    ({"ok": 3}, "ok", {"ok": 3}),
    ({"error": "ValueError: x"}, "ok", {"error": "ValueError: x"}),
    (None, "ok", {"error": "the answer could not be recorded (ok)"}),
    ({"ok": 3}, "died", {"error": "the answer could not be recorded (died)"}),
    ({"ok": 3, "error": "x"}, "ok", {"error": "the answer could not be recorded (malformed)"}),
    ({"error": 3}, "ok", {"error": "the answer could not be recorded (malformed)"}),
    ([{"ok": 3}], "ok", {"error": "the answer could not be recorded (malformed)"})])
def test_the_driver_keeps_only_answers_of_the_known_forms(result, status, recorded):
    assert driver.read_answer(result, status) == recorded


def test_the_kernel_side_files_are_clean():
    """What runs in the kernel is linted like the rest (pyflakes: no unused or undefined name)."""
    pyflakes = pytest.importorskip("pyflakes.api")
    from pyflakes.reporter import Reporter
    import io
    messages = io.StringIO()
    files = [*sorted(KERNEL.glob("*.py")), KERNEL.parent / "driver.py", KERNEL.parent / "plain.py"]
    problems = sum(pyflakes.checkPath(str(path), Reporter(messages, messages)) for path in files)
    assert problems == 0, messages.getvalue()
