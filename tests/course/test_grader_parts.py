"""The grader's parts on their own: the plain-data codec, the judge's comparisons, the static
tamper scan, the hidden tests' declarations and the sandbox's refusals."""

import json
import math
import os
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from classroom import grading
from classroom.layout import CourseFolder
from course_helpers import COURSE

from classroom.grader import batch, judge, plain, sandbox, spec, tamper

ASSIGNMENTS = sorted(p.name for p in (COURSE / "source").iterdir())

# ---------------------------------------------------------------- plain data

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**62, 2**62),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
arrays = st.builds(lambda shape, kind, seed: np.random.default_rng(seed).normal(size=shape).astype(kind),
                   st.lists(st.integers(0, 4), max_size=3), st.sampled_from(["float64", "int64", "bool"]),
                   st.integers(0, 100))
values = st.recursive(st.one_of(scalars, arrays), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def same(a, b):
    if isinstance(a, np.ndarray):
        return type(b) is np.ndarray and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=150, deadline=None)
@given(values)
def test_plain_values_round_trip_through_json(value):
    assert same(value, plain.loads(plain.dumps(value)))


def test_numpy_scalars_and_framework_tensors_become_plain_numbers():
    assert plain.loads(plain.dumps(np.int64(3))) == 3
    assert type(plain.loads(plain.dumps(np.float32(0.5)))) is float
    assert plain.loads(plain.dumps(plain.answer_value((np.bool_(True), [np.uint8(7)])))) == (True, [7])


@pytest.mark.parametrize("sneaky", [
    type("AlwaysEqual", (int,), {"__eq__": lambda s, o: True, "__hash__": int.__hash__})(0),
    type("Str", (str,), {})("b"), type("D", (dict,), {})(a=1), np.ma.masked_array([1, 2]),
    np.array(["a"]), object(), {1: 2}, lambda: 0, type("F", (np.float64,), {})(1.0)])
def test_objects_that_are_not_plain_data_are_rejected(sneaky):
    with pytest.raises(plain.NotPlain):
        plain.dumps(sneaky)


@pytest.mark.parametrize("text", [
    '{"$array": {"dtype": "object", "shape": [1], "data": [1]}}',
    '{"$array": {"dtype": "float64", "shape": [2], "data": [1.0]}}',
    '{"$array": {"dtype": "float64", "shape": [1], "data": ["1e999"]}}',
    '{"$evil": 1}', '{"$float": "1.5"}', 'NaN', '[Infinity]',
    '{"$tuple": 3}', '{"$array": {"dtype": "int64", "shape": [1], "data": [true]}}'])
def test_malformed_answers_are_refused_by_the_decoder(text):
    with pytest.raises((plain.NotPlain, ValueError)):
        plain.loads(text)


def test_answers_have_a_size_cap():
    with pytest.raises(plain.NotPlain, match="more than"):
        plain.to_plain(np.zeros(plain.MAX_ELEMENTS + 1))
    with pytest.raises(plain.NotPlain, match="deeper"):
        nested = []
        for _ in range(plain.MAX_DEPTH + 2):
            nested = [nested]
        plain.to_plain(nested)


# ---------------------------------------------------------------- judging like a TA

NUMBER = spec.Exercise("t", spec.value("x"), expected=0)
CHOICE = spec.Exercise("t", spec.value("x"), expected="b", kind="choice")


@pytest.mark.parametrize("got, expected", [
    (10125.0, 10125), (np.int64(3), 3), ((30, 30), [30, 30]), ([1, [2, 3]], (1, (2, 3))),
    ({"a": (1, 2)}, {"a": [1.0, 2.0]}), (np.array([0.1, 0.2]), [0.1, 0.2 + 1e-9]), (True, True)])
def test_numbers_in_another_form_are_right(got, expected):
    assert judge.compare(NUMBER, got, expected) is None


@pytest.mark.parametrize("got, expected", [
    ([1, 2], 3), (10124, 10125), ((30, 31), (30, 30)), ({"a": 1}, {"a": 1, "b": 2}),
    ("b", "a"), (None, 1), (np.zeros((2, 2)), np.zeros(4)), (False, True)])
def test_wrong_numbers_are_wrong(got, expected):
    assert judge.compare(NUMBER, got, expected)


@pytest.mark.parametrize("got, right", [(" B ", True), ("b", True), ("B", True), ("c", False),
                                        ("bb", False), (2, False)])
def test_letters_are_read_in_any_case(got, right):
    assert (judge.compare(CHOICE, got, "b") is None) == right


def test_a_verdict_needs_every_case_and_says_which_failed():
    exercise = spec.Exercise("t", spec.call("f"), lambda rng: [[1], [2]], expected=lambda n: n * 2,
                             visible=1)
    ok = judge.verdict(exercise, [{"ok": 2}, {"ok": 4}], [2, 4])
    assert ok == {"passed": True, "cases": 2, "failed": 0, "hidden_failed": 0, "problems": [],
                  "visible": [{"case": 1, "passed": True, "expected": "2"}], "hidden_notes": [],
                  "hidden": 1, "odd": []}
    bad = judge.verdict(exercise, [{"ok": 2}, {"error": "ZeroDivisionError: x"}], [2, 4])
    assert not bad["passed"] and bad["failed"] == bad["hidden_failed"] == 1
    assert "case 2" in bad["problems"][0] and bad["visible"][0]["passed"]
    wrong_visible = judge.verdict(exercise, [{"ok": 3}, {"ok": 4}], [2, 4])
    assert wrong_visible["visible"] == [{"case": 1, "passed": False, "expected": "2",
                                         "explained": "expected 2, got 3"}]
    assert wrong_visible["hidden_failed"] == 0
    assert not judge.verdict(exercise, [{"ok": 2}], [2, 4])["passed"]          # one missing
    assert not judge.verdict(exercise, None, [2, 4])["passed"]                 # not recorded
    forged = [{"ok": {"$array": {"dtype": "object", "shape": [], "data": []}}}, {"ok": 4}]
    assert not judge.verdict(exercise, forged, [2, 4])["passed"]


# ---------------------------------------------------------------- hidden tests

@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_test_cell_has_its_hidden_side_and_cases_depend_on_the_secret(assignment):
    release = {p.stem: nbformat.read(p, as_version=4)
               for p in (COURSE / "release" / assignment).glob("*.ipynb")}
    exercises, cases, plan = batch.plan_for(COURSE, assignment, release, "secret-1")
    _, same_cases, _ = batch.plan_for(COURSE, assignment, release, "secret-1")
    _, other_cases, _ = batch.plan_for(COURSE, assignment, release, "secret-2")
    assert cases == same_cases
    assert set(plan) == set().union(*map(batch.test_cells, release.values()))
    assert json.dumps(cases) != json.dumps(other_cases) or not cases
    for exercise in exercises:
        assert json.loads(json.dumps(plan[exercise.grade_id])) == plan[exercise.grade_id]


def test_a_test_cell_without_a_hidden_side_stops_grading():
    release = {"anchors": nbformat.read(COURSE / "release" / "01_anchors" / "anchors.ipynb", 4)}
    exercises = spec.load(CourseFolder(COURSE).hidden_file("01_anchors"))[1:]
    with pytest.raises(SystemExit, match="test_count_anchors"):
        batch.check_exercises(exercises, release, "01_anchors")


def test_exercise_declarations_are_checked():
    with pytest.raises(ValueError, match="exactly one"):
        spec.Exercise("t", spec.value("x"))
    with pytest.raises(ValueError, match="needs cases"):
        spec.Exercise("t", spec.call("f"), expected=lambda: 1)
    with pytest.raises(ValueError, match="kind"):
        spec.Exercise("t", spec.value("x"), expected=1, kind="fuzzy")


# ---------------------------------------------------------------- static tamper scan

PROTECTED = {"np": "import numpy", "check": "from boxloc.exercises import check",
             "BoundingBox": "from boxloc import BoundingBox"}


@pytest.mark.parametrize("code, flag", [
    ("check = lambda *a, **k: None", "rebinding"),
    ("def g():\n    global check\n    check = print", "rebinding"),
    ("import numpy\nnp = numpy", "rebinding"),
    ("import boxloc.exercises as E\nE.difference = lambda *a: None", "patching"),
    ("np.allclose = lambda *a, **k: True", "patching"),
    ("BoundingBox.anchors = property(lambda self: [])", "patching"),
    ("get_ipython().input_transformers_cleanup.append(lambda lines: lines)", "ipython_hooks"),
    ("get_ipython().set_custom_exc((Exception,), lambda *a: None)", "ipython_hooks"),
    ("class A(int):\n    def __eq__(self, other):\n        return True", "custom_equality"),
    ("import os\nos._exit(0)", "system_import"),
    ("exec('x = 1')", "dynamic_code"),
    ("open('../../source/01_anchors/anchors.ipynb').read()", "file_access"),
    ("!cat ../../gradebook.db", "shell"),
    ("from boxloc.exercises import _difference", "private_import"),
    ("def broken(:\n    pass", "syntax"),
    # uses, whatever the locked setup cell imported (it imports os: no import here to see)
    ("os.kill(os.getppid(), 9)", "signal"),
    ("os.kill(os.getppid(), 9)", "process_access"),
    ("signal.pidfd_send_signal(fd, 9)", "signal"),
    ("os.truncate('/tmp/log', 0)", "file_access"),
    ("importlib.import_module('ctypes').CDLL(None)", "native_code"),
    ("__import__('ctypes')", "native_code"),
    ("libc = np.ctypeslib.load_library('libc', '/lib')", "native_code"),
    ("open(f'/proc/{pid}/mem', 'rb')", "process_access"),
    ("def f():\n    return sys._getframe(1).f_globals", "introspection"),
    ("gc.get_referrers(check)", "introspection"),
    ("count_anchors.__code__ = other.__code__", "introspection"),
    ("import builtins\nbuiltins.open = print", "recorder_access"),
    ("sys.modules['json'] = None", "recorder_access"),
    ("_boxloc_record = print", "recorder_access"),
    ("__builtins__ = {}", "recorder_access"),
    ("get_ipython().kernel.comm_manager.unregister_target('boxloc.grader', None)", "recorder_access"),
    ("print(open('/grader/job.json').read())", "recorder_access")])
def test_the_scan_names_each_attempt(code, flag):
    assert flag in {f["flag"] for f in tamper.scan_cell(code, "cell", PROTECTED)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solutions_raise_no_flag(assignment):
    from course_helpers import ROOT
    release = nbformat.read(next((COURSE / "release" / assignment).glob("*.ipynb")), as_version=4)
    solution = nbformat.read(next((ROOT / "solutions" / assignment).glob("*.ipynb")), as_version=4)
    assert tamper.scan_notebook(solution, release) == []


def test_honest_local_names_and_reimports_are_not_flagged():
    code = "import numpy as np\nfrom boxloc import BoundingBox\ndef f(height):\n    check = 1\n    return check"
    assert tamper.scan_cell(code, "cell", PROTECTED) == []
    code = ("kernel = layers.Conv3D(8, 3).kernel_size\nstack = np.stack([a, b])\n"   # common words
            "x = tf.cast(y, 'float32')\ngc_free = 1\nframe = frames[0]")
    assert tamper.scan_cell(code, "cell", PROTECTED) == []


# ---------------------------------------------------------------- sandbox refusals

def test_the_course_folder_is_never_mounted_into_a_sandbox(tmp_path):
    course = tmp_path / "course"
    (course / "lib").mkdir(parents=True)
    with pytest.raises(SystemExit, match="contains or lies inside"):
        sandbox.check_mounts([str(course / "lib")], [str(course)])
    with pytest.raises(SystemExit, match="contains or lies inside"):
        sandbox.check_mounts([str(tmp_path)], [str(course)])
    sandbox.check_mounts([str(tmp_path / "other")], [str(course)])


def test_no_sandbox_means_no_grading_unless_the_instructor_accepts_it(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "detect_level", lambda problems=None: "none")
    with pytest.raises(SystemExit, match="--allow-unsandboxed"):
        grading.sandbox_level(False)
    assert grading.sandbox_level(True) == "none"
    assert "WARNING" in capsys.readouterr().err


def test_this_machine_grades_in_namespaces():
    assert sandbox.detect_level() in ("namespaces-root", "namespaces-user")


PROC_REFUSED = ("mount --bind /dev/null /proc/keys")     # an entry of /proc mounted over


def in_a_runtime_that_refuses_proc_mounts(code):
    """Run ``code`` (Python) as the grader would on a runtime whose /proc has an entry mounted
    over, as a container's has: there a user namespace may not mount a fresh proc (the kernel's
    mount_too_revealing rule; Colab refuses proc mounts since 2025). Returns its stdout."""
    if os.geteuid() != 0:
        pytest.skip("building that runtime needs root")
    done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c",
                           f'{PROC_REFUSED} && exec "$0" -c "$1"', sys.executable, code],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(COURSE)})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_where_proc_cannot_be_mounted_the_level_is_found_by_starting_the_sandbox():
    """The reproduction of the issue: ``unshare --user ... mount -t proc`` fails there; the
    trial of ``unshare`` alone passes, so only starting the real sandbox tells."""
    out = in_a_runtime_that_refuses_proc_mounts(
        "import json, subprocess\n"
        "from classroom.grader import sandbox\n"
        "trial = subprocess.run(sandbox._unshare('namespaces-user') + ['true']).returncode\n"
        "problems = {}\n"
        "level = sandbox.detect_level(['namespaces-user', 'namespaces-user-no-proc'], problems)\n"
        "print(json.dumps([trial, level, problems]))")
    trial, level, problems = json.loads(out.strip().splitlines()[-1])
    assert trial == 0 and level == "namespaces-user-no-proc"
    assert "proc" in problems["namespaces-user"] and "denied" in problems["namespaces-user"]


def test_a_sandbox_that_does_not_start_is_not_a_zero_and_stops_the_batch(tmp_path):
    """Forced to a level that cannot start there (namespaces-user where proc mounts are refused):
    each submission is "not graded: sandbox failed (the reason)", never a 0, and the batch stops
    after three such failures in a row, before judging or writing anything."""
    release_path = COURSE / "release" / "01_anchors" / "anchors.ipynb"
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "import nbformat\n"
        "from classroom.grader import batch, sandbox\n"
        f"release = nbformat.read({str(release_path)!r}, as_version=4)\n"
        f"subs = [batch.Submission(f's{{i}}', 'anchors', Path({str(release_path)!r})) for i in range(5)]\n"
        "_, _, plan = batch.plan_for(Path(" + repr(str(COURSE)) + "), '01_anchors', {'anchors': release}, 's')\n"
        "one = batch.run_one(subs[0], plan, 'namespaces-user', sandbox.Limits(), 0, "
        + repr(str(COURSE)) + ", release, None)\n"
        "print(json.dumps([one.not_graded, [f['flag'] for f in one.flags]]))\n"
        "try:\n"
        "    batch.grade_batch(Path(" + repr(str(COURSE)) + "), '01_anchors', subs, {'anchors': release}, 1,\n"
        "                      sandbox.Limits(), 'namespaces-user', 's', progress=lambda *a: None)\n"
        "except SystemExit as stop:\n"
        "    print(json.dumps(str(stop)))\n")
    first, stopped = [json.loads(line) for line in
                      in_a_runtime_that_refuses_proc_mounts(code).strip().splitlines()[-2:]]
    reason, flags = first
    assert reason.startswith("the sandbox did not start: ") and "proc" in reason
    assert "sandbox_failed" in flags
    assert stopped.startswith("grading stopped: 3 sandboxes in a row did not start")
    assert "no grade was written" in stopped


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="level must be one of"):
        sandbox.run({}, b"", "chroot", sandbox.Limits())


# The kernel goes for the driver that records it (its parent, the sandbox's PID 1): signals,
# its memory and environment, its file descriptors (pidfd_getfd through ctypes), the recorder's
# file (a read-only mount).
ATTACK_THE_DRIVER = """
import ctypes, signal
driver = os.getppid()
print('driver', driver)
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
    try:
        os.kill(driver, sig)
        print('kill', sig.name, 'sent')
    except OSError as error:
        print('kill', sig.name, type(error).__name__)
for entry in ('mem', 'environ'):
    try:
        open(f'/proc/{driver}/{entry}', 'rb').read(1)
        print(entry, 'read')
    except OSError as error:
        print(entry, type(error).__name__)
libc = ctypes.CDLL(None, use_errno=True)
pidfd = libc.syscall(434, driver, 0)
print('pidfd_getfd took', [fd for fd in range(64) if libc.syscall(438, pidfd, fd, 0) >= 0])
try:
    open('/grader/kernel/recorder.py', 'a').close()
    print('kernel files writable')
except OSError as error:
    print('kernel files', type(error).__name__)
try:
    print('driver', [line.split()[:2] for line in open(f'/proc/{driver}/status').read().splitlines()
                     if line.startswith(('Uid', 'CapEff', 'CapInh', 'CapAmb'))])
except OSError:
    print('driver status unavailable')
"""


@pytest.mark.parametrize("level", [level for level in sandbox.LEVELS if level != "none"])
def test_each_isolation_level_hides_the_course_and_keeps_answers(tmp_path, level):
    """A solved notebook with one extra cell that looks for the course and goes for the driver,
    graded at each level: the course is not there, and the driver survives (every answer is
    recorded), its memory, environment and descriptors out of reach; where the grader is root
    it runs as its own uid with only CAP_SETUID, CAP_SETGID and CAP_KILL (bits 5-7), none
    inheritable, and the kernel cannot even signal it."""
    if level.startswith("namespaces-root") and sandbox.detect_level() != "namespaces-root":
        pytest.skip("the grader does not run as root here")
    from course_helpers import fill, solution_cells
    release_path = COURSE / "release" / "01_anchors" / "anchors.ipynb"
    release = nbformat.read(release_path, as_version=4)
    nb = fill(release_path, solution_cells(COURSE / "source" / "01_anchors" / "anchors.ipynb"))
    probe = (f"import os\ntry:\n    print('course visible:', os.listdir({str(COURSE)!r}))\n"
             "except FileNotFoundError:\n    print('course visible: False')\n"
             "print('uid', os.getuid(), 'pid', os.getpid())\n"
             "print('proc:', os.listdir('/proc')[:3])\n"
             + ATTACK_THE_DRIVER +
             "open('/usr/boxloc-probe', 'w')")
    nb.cells.insert(2, nbformat.v4.new_code_cell(probe))
    path = tmp_path / "anchors.ipynb"
    nbformat.write(nb, path)
    _, _, plan = batch.plan_for(COURSE, "01_anchors", {"anchors": release}, "s")
    graded = batch.run_one(batch.Submission("probe", "anchors", path), plan, level,
                           sandbox.Limits(cell_timeout=60), 0, COURSE, release, None)
    assert set(graded.answers) == set(plan)
    assert [c.source for c in graded.executed.cells] == [c.source for c in nb.cells]
    assert all("ok" in r for results in graded.answers.values() for r in results)
    output = "".join(o.get("text", "") for o in graded.executed.cells[2].outputs)
    assert "course visible: False" in output
    assert "Read-only file system" in "".join(o.get("evalue", "") for o in graded.executed.cells[2].outputs)
    assert {"course_access", "write_outside"} <= {f["flag"] for f in graded.flags}
    if level.startswith("namespaces-root"):
        assert f"uid {sandbox.FIRST_UID}" in output
    assert ("proc: []" in output) == level.endswith("no-proc")
    assert "driver 1\n" in output and "pidfd_getfd took []" in output
    assert "kernel files writable" not in output and "kernel files " in output
    seen = {f["flag"] for f in graded.flags if f["cell"] is None}      # by the audit hook
    assert {"signal", "native_code", "process_access"} <= seen
    assert not {"incomplete", "audit_gap", "audit_flood"} & seen
    if not level.endswith("no-proc"):
        assert "mem PermissionError" in output and "environ PermissionError" in output
    if level.startswith("namespaces-root"):
        assert "kill SIGKILL PermissionError" in output
    if level == "namespaces-root":
        assert (f"driver [['Uid:', '{sandbox.FIRST_DRIVER_UID}'], ['CapInh:', '0000000000000000'], "
                "['CapEff:', '00000000000000e0'], ['CapAmb:', '0000000000000000']]") in output


def test_without_a_sandbox_the_same_driver_records_every_answer(tmp_path):
    """``none`` (``--allow-unsandboxed``): no isolation at all, but the same driver, startup
    file, recorder and audit channel; an honest notebook is recorded in full, unflagged."""
    from course_helpers import fill, solution_cells
    release_path = COURSE / "release" / "01_anchors" / "anchors.ipynb"
    release = nbformat.read(release_path, as_version=4)
    path = tmp_path / "anchors.ipynb"
    nbformat.write(fill(release_path, solution_cells(COURSE / "source" / "01_anchors" / "anchors.ipynb")), path)
    _, _, plan = batch.plan_for(COURSE, "01_anchors", {"anchors": release}, "s")
    graded = batch.run_one(batch.Submission("solution", "anchors", path), plan, "none",
                           sandbox.Limits(cell_timeout=60), 0, COURSE, release, None)
    assert set(graded.answers) == set(plan) and graded.flags == []
    assert all("ok" in r for results in graded.answers.values() for r in results)


# ---------------------------------------------------------------- resources per sandbox

def test_workers_are_as_many_as_fit_in_memory(monkeypatch):
    limits = sandbox.Limits(sandbox_memory_mb=6000)
    assert sandbox.workers_that_fit(limits, None, memory_mb=23000, cpus=2) == (2, "")
    assert sandbox.workers_that_fit(limits, 8, memory_mb=23000) == (
        3, "8 workers x 6000 MB per sandbox do not fit in the 23000 MB of memory available: "
           "grading with 3")
    assert sandbox.workers_that_fit(limits, 4, memory_mb=1000)[0] == 1       # never none
    monkeypatch.setattr(sandbox, "available_memory_mb", lambda: None)       # not Linux
    assert sandbox.workers_that_fit(limits, 4) == (4, "")


def test_a_control_group_caps_the_whole_sandbox_not_each_process():
    """Two children of 200 MB each fit a 300 MB per-process rule but not a 300 MB group; the
    process cap counts the sandbox's processes together."""
    from classroom.grader import cgroups
    group = cgroups.SandboxGroup.create("test", memory_mb=300, processes=40)
    if group is None:
        pytest.skip("this host lets the grader create no control group (per-process limits only)")
    hog = ("import os, time\n"
           "for _ in range(2):\n"
           "    if os.fork() == 0:\n"
           "        block = bytearray(200 * 1024 * 1024)\n"
           "        for i in range(0, len(block), 4096): block[i] = 1\n"
           "        time.sleep(5); os._exit(0)\n"
           "print([os.waitpid(-1, 0)[1] for _ in range(2)])")
    forks = ("import os\n"
             "for _ in range(100):\n"
             "    if os.fork() == 0:\n"
             "        import time; time.sleep(3); os._exit(0)\n")
    try:
        done = subprocess.run([sys.executable, "-c", hog], preexec_fn=group.join,
                              capture_output=True, text=True, timeout=60)
        statuses = json.loads(done.stdout)
        assert any(os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9 for s in statuses), statuses
        assert group.oom_kills() >= 1
        done = subprocess.run([sys.executable, "-c", forks], preexec_fn=group.join,
                              capture_output=True, text=True, timeout=60)
        assert "Resource temporarily unavailable" in done.stderr
    finally:
        group.close()
    assert not any(folder.exists() for folder in group.folders)


def test_no_control_group_where_the_host_offers_none(tmp_path):
    from classroom.grader import cgroups
    assert cgroups.SandboxGroup.create("x", 100, 10, mounts={}) is None
    read_only = tmp_path / "memory"
    read_only.mkdir()
    read_only.chmod(0o500)
    mounts = {("cgroup", "memory"): tmp_path / "absent", ("cgroup", "pids"): tmp_path / "absent"}
    assert cgroups.SandboxGroup.create("x", 100, 10, mounts=mounts) is None


def test_a_memory_hog_costs_only_its_own_sandbox(tmp_path):
    """A hog (four children of 600 MB under a 1.5 GB sandbox cap) and an honest classmate
    graded side by side: the hog's children are ended and flagged, the classmate keeps every
    mark."""
    from classroom.grader import cgroups
    probe = cgroups.SandboxGroup.create("probe", 100, 10)
    if probe is None:
        pytest.skip("this host lets the grader create no control group (per-process limits only)")
    probe.close()
    from course_helpers import fill, solution_cells
    release_path = COURSE / "release" / "01_anchors" / "anchors.ipynb"
    release = nbformat.read(release_path, as_version=4)
    answers = solution_cells(COURSE / "source" / "01_anchors" / "anchors.ipynb")
    hog = ("import os\n"
           "for _ in range(4):\n"
           "    if os.fork() == 0:\n"
           "        block = bytearray(600 * 1024 * 1024)\n"
           "        for i in range(0, len(block), 4096): block[i] = 1\n"
           "        os._exit(0)\n"
           "for _ in range(4): os.wait()\n")
    paths = {}
    for student, extra in (("honest", ""), ("hog", hog)):
        paths[student] = tmp_path / f"{student}.ipynb"
        nbformat.write(fill(release_path, {**answers, "count_anchors": extra + answers["count_anchors"]}),
                       paths[student])
    graded = batch.grade_batch(COURSE, "01_anchors",
                               [batch.Submission(s, "anchors", p) for s, p in paths.items()],
                               {"anchors": release}, 2,
                               sandbox.Limits(sandbox_memory_mb=1500, cell_timeout=120),
                               sandbox.detect_level(), "s", progress=lambda *args: None)
    honest, hogging = graded
    assert all(v["passed"] for v in honest.verdicts.values()) and not honest.not_graded
    assert "memory_limit" not in {f["flag"] for f in honest.flags}
    assert "memory_limit" in {f["flag"] for f in hogging.flags}
