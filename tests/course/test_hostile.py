"""Hostile submissions, graded in ONE batch with an honest, a wrong and a blank one.

Every hostile notebook answers like the "wrong" student (``count_anchors`` off by one, the
rest right: 9 of 11 points), so an attack that gave or took marks would show. After grading:
each hostile submission has exactly 9 points (less what an odd answer elsewhere costs, listed
in ``LOSES``), the honest one 11, the wrong one 9, the blank one 0; nothing in the course
folder, the grader's code or the host changed; and the report flags name each attempt. Answers
no comparison could read (10**400, text for a number, bools for a letter) and a function that
never returns on a hidden case cost only their exercise (the batch completes). The kernel
goes for the driver that records it and for its audit channel (``attack_the_driver``), rebinds
and patches what a recorder would use (``rebind_the_recorder``: no effect) and changes its own
record through the recorder's frame (``forge_through_frames``: possible in-process, flagged).
Attacks on ``collect`` (zip paths, symlinks, a zip bomb) are at the end.
"""

import hashlib
import io
import json
import os
import shutil
import stat
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import nbformat
import pytest

from boxloc.exercises import HUGE_NUMBER, MANY_FOR_ONE, TEXT_FOR_NUMBER
from classroom import collecting, commands, grading
from classroom.layout import CourseFolder
from course_helpers import COURSE, HOSTILE_TEXTS, control_characters, fill, formula_cells, grade, make_course, release_points, scores, solution_cells, submit

ASSIGNMENT = "01_anchors"
SOURCE = COURSE / "source" / ASSIGNMENT / "anchors.ipynb"
SOLUTIONS = solution_cells(SOURCE)
FULL = release_points(ASSIGNMENT)
WRONG_COUNT = '''
def count_anchors(image_shape, c, anchor_scales, anchor_ratios):
    import math
    return sum(math.ceil(image_shape[0] / 2 ** l) * math.ceil(image_shape[1] / 2 ** l)
               * len(anchor_scales) * len(anchor_ratios) for l in c)'''
EARNED = dict(FULL, test_count_anchors=0)
PWNED = "/tmp/boxloc-hostile-was-here"
TIMEOUT = 20                                   # seconds per cell and per recorded case
LOSES = {"bools_for_a_letter": "test_refinement",   # an odd answer besides count_anchors
         "forge_through_frames": "test_anchor_size"}  # its own record changed (and flagged)
SLOW_ON_HIDDEN_CASES = SOLUTIONS["count_anchors"].replace(
    "    height, width = image_shape",
    "    while 2 in c:              # only hidden cases ask for level 2: never returns there\n"
    "        pass\n    height, width = image_shape")
# The kernel goes for the driver (its parent, the sandbox's PID 1) and for the audit channel:
# each try prints what it got; the channel is then flooded and redirected to /dev/null.
ATTACK_THE_DRIVER = """
import ctypes, json, os, signal, socket
libc = ctypes.CDLL(None, use_errno=True)
driver = os.getppid()

def attempt(name, action):
    try:
        print(name, '->', action())
    except OSError as error:
        print(name, '-> denied:', type(error).__name__)

def syscall(*args):
    value = libc.syscall(*args)
    if value < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return value

for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP):
    attempt(f'kill {sig.name}', lambda: os.kill(driver, sig))
for entry in ('mem', 'environ', 'fd/1'):
    attempt(f'read /proc/driver/{entry}', lambda: open(f'/proc/{driver}/{entry}', 'rb').read(16))
attempt('ptrace attach', lambda: syscall(101, 16, driver, 0, 0))
pidfd = syscall(434, driver, 0)
attempt('pidfd_getfd', lambda: [syscall(438, pidfd, fd, 0) for fd in range(64)])
channel = json.loads(os.environ['BOXLOC_KERNEL'])['audit_fd']
attempt('truncate the audit channel', lambda: os.ftruncate(channel, 0))
attempt('read back the audit channel', lambda: socket.socket(fileno=os.dup(channel)).recv(1, socket.MSG_DONTWAIT))
attempt('reopen the audit channel', lambda: open(f'/proc/self/fd/{channel}', 'rb'))
for _ in range(300):
    os.write(channel, b'{"kind": "junk"}\\n')
os.dup2(os.open(os.devnull, os.O_WRONLY), channel)
"""
# What a recorder that looked names up in the notebook, or read its code with builtins.open,
# would run instead: every answer 0.
REBIND_THE_RECORDER = """
import builtins, io
real_open = builtins.open
def forged_open(path, *args, **kwargs):
    if str(path).endswith(('recorder.py', 'plain.py')):
        return io.StringIO("def record(*args, **kwargs):\\n    return {'ok': 0}\\n")
    return real_open(path, *args, **kwargs)
builtins.open = forged_open
_boxloc_record = exec = compile = lambda *args, **kwargs: {'ok': 0}
"""
# anchor_size, when the recorder calls it, reaches the recorder's frame and changes what it
# records (0); called by the notebook's own checks, it is the solution
FORGE_THROUGH_FRAMES = SOLUTIONS["anchor_size"].replace(
    "    size = base_size",
    "    import sys\n    caller = sys._getframe(1)\n    if 'plain' in caller.f_locals:\n"
    "        caller.f_locals['plain'].to_plain = lambda *args: 0\n    size = base_size")


def attacks(course):
    """name -> (code of an extra cell placed right after the setup cell, flags it must raise[,
    solution cells answered otherwise])."""
    c = str(course)
    grader = str(COURSE / "classroom")
    return {
        "rebind_check": ("check = lambda *args, **kwargs: None", {"rebinding"}),
        "patch_comparisons": ("import boxloc.exercises as E\n"
                              "E.difference = lambda *a, **k: None\nE.check = lambda *a, **k: None",
                              {"patching"}),
        "patch_numpy": ("np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
                        "np.ndarray.__eq__ = lambda *a: True", {"patching"}),
        "patch_library": ("import boxloc.anchors\nBoundingBox.anchors = property(lambda self: [0] * 10710)\n"
                          "boxloc.anchors.anchor_templates = lambda *a, **k: [[0, 0]]", {"patching"}),
        "input_transformer": ("get_ipython().input_transformers_cleanup.append(\n"
                              "    lambda lines: ['pass\\n'] if any('check(' in l for l in lines) else lines)",
                              {"ipython_hooks"}),
        "custom_exception_handler": ("get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)\n"
                                     "get_ipython().showtraceback = lambda *a, **k: None", {"ipython_hooks"}),
        "always_equal_answer": ("pass", {"custom_equality", "not_plain"}, {"count_anchors": (
            "class Anything(int):\n    def __eq__(self, other):\n        return True\n"
            "    __hash__ = int.__hash__\n\n"
            "def count_anchors(*args):\n    return Anything(0)")}),
        "read_course_files": (f"import os\nfor root in [os.getcwd(), '..', '../..', '/root', {c!r}]:\n"
                              "    print(root, os.listdir(root) if os.path.isdir(root) else 'absent')\n"
                              f"print(open({c!r} + '/hidden/01_anchors.py').read())",
                              {"system_import", "file_access", "read_outside", "course_access"}),
        "read_gradebook": (f"import sqlite3\nprint(sqlite3.connect({c!r} + '/gradebook.db')"
                           ".execute('select * from grade').fetchall())", {"system_import"}),
        "write_gradebook": (f"import sqlite3\ndb = sqlite3.connect({c!r} + '/gradebook.db')\n"
                            "db.execute('update grade set auto_score = 100')\ndb.commit()",
                            {"system_import"}),
        "rewrite_grader": (f"for path in [{c!r} + '/nbgrader_config.py', {grader!r} + '/judge.py',\n"
                           f"             {c!r} + '/hidden/01_anchors.py']:\n"
                           "    open(path, 'a').write('\\nraise SystemExit(0)\\n')",
                           {"file_access", "course_access"}),
        "delete_other_submissions": (f"import shutil\nshutil.rmtree({c!r} + '/submitted')\n"
                                     f"shutil.rmtree({c!r} + '/release')", {"system_import", "course_access"}),
        "write_host_tmp": (f"open({PWNED!r}, 'w').write('x')", {"file_access"}),
        "exit_the_kernel": ("import os\nos._exit(0)", {"system_import", "kernel_died"}),
        "kill_the_kernel": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
                            {"system_import", "signal", "kernel_died"}),
        "ignore_interrupts": ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                              "while True:\n    pass", {"system_import", "timeout"}),
        "output_flood": ("import sys\nfor _ in range(50):\n    sys.stdout.write('x' * 1_000_000)",
                         {"system_import", "output_flood"}),
        "memory_hog": ("blocks = []\nwhile True:                  # 2 GiB blocks until the address space ends\n"
                       "    blocks.append(np.empty(2**28))",
                       {"resource_limit"}),
        "disk_hog": ("with open('big.bin', 'wb') as f:\n    for _ in range(2048):\n"
                     "        f.write(b'0' * 2**20)", {"file_access", "resource_limit"}),
        "fork_bomb": ("import os\nchildren = 0\ntry:\n    while children < 5000:\n"
                      "        if os.fork() == 0:\n            import time; time.sleep(60); os._exit(0)\n"
                      "        children += 1\nexcept OSError as error:\n    print('stopped', children, error)",
                      {"system_import", "process"}),
        "network": ("import socket\nsocket.create_connection(('pypi.org', 443), timeout=3)",
                    {"system_import", "network"}),
        "detached_writer": ("import subprocess\nsubprocess.Popen(['sh', '-c', "
                            f"'sleep 3; echo x > {PWNED}; echo x > {c}/pwned'], start_new_session=True)",
                            {"system_import", "process"}),
        "stuck_in_c_code": ("import re\nre.match('(a+)+$', 'a' * 64 + 'b')       # no signal stops it",
                            {"timeout"}),
        "script_in_output": ("from IPython.display import HTML, display\n"
                             "display(HTML('<script>document.title = \"pwned\"</script>'))\n"
                             "print('<script>alert(1)</script>')", set()),
        "huge_number": ("pass", {"odd_answer"},
                        {"count_anchors": "def count_anchors(*args):\n    return 10 ** 400"}),
        "text_for_a_number": ("pass", {"odd_answer"},
                              {"count_anchors": "def count_anchors(*args):\n    return '10710'"}),
        "bools_for_a_letter": ("pass", {"odd_answer"},
                               {"refinement": "refinement_answer = np.array([True, False])"}),
        "slow_hidden_case": ("pass", {"timeout"}, {"count_anchors": SLOW_ON_HIDDEN_CASES}),
        "leak_hidden_cases": ("seen = []", set(), {"count_anchors": WRONG_COUNT.replace(
            "    import math", "    seen.append((image_shape, c, anchor_scales, anchor_ratios))\n    import math"),
            "target_shapes": SOLUTIONS["target_shapes"].replace(
                "    height, width = image_shape", "    print('hidden cases:', seen)\n    height, width = image_shape")}),
        "forge_flag_names": ("import json, os\nchannel = json.loads(os.environ['BOXLOC_KERNEL'])['audit_fd']\n"
                             f"for text in {HOSTILE_TEXTS!r}:\n"
                             "    line = json.dumps({'kind': text, 'event': text, 'args': text}) + '\\n'\n"
                             "    os.write(channel, line.encode())",
                             {"recorder_access", "unknown_flag"}),
        "attack_the_driver": (ATTACK_THE_DRIVER, {"signal", "native_code", "process_access",
                                                  "file_access", "audit_flood", "audit_gap"}),
        "rebind_the_recorder": (REBIND_THE_RECORDER, {"recorder_access", "patching"}),
        "forge_through_frames": ("pass", {"introspection"}, {"anchor_size": FORGE_THROUGH_FRAMES}),
    }


def hostile(release, code, answers=None):
    nb = fill(release, {**SOLUTIONS, "count_anchors": WRONG_COUNT, **(answers or {})})
    at = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells].index("setup") + 1
    nb.cells.insert(at, nbformat.v4.new_code_cell(code))
    return nb


def fingerprint(*folders):
    """sha256 of every file (path and bytes) under the folders, grader outputs left out."""
    digest = hashlib.sha256()
    skip = {"gradebook.db", "autograded", "reports", "repaired", "feedback", "__pycache__",
            ".nbgrader.log"}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and not skip & set(path.relative_to(folder).parts):
                digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("hostile"))
    release = course / "release" / ASSIGNMENT / "anchors.ipynb"
    submit(course, "honest", ASSIGNMENT, fill(release, SOLUTIONS))
    submit(course, "wrong", ASSIGNMENT, fill(release, {**SOLUTIONS, "count_anchors": WRONG_COUNT}))
    submit(course, "blank", ASSIGNMENT, release)
    planned = attacks(course)
    for name, (code, _, *answers) in planned.items():
        submit(course, name, ASSIGNMENT, hostile(release, code, *answers))
    if os.path.exists(PWNED):
        os.remove(PWNED)
    before = fingerprint(course, COURSE / "classroom", COURSE / "hidden")
    output, grades = io.StringIO(), course.parent / "grades.csv"
    with redirect_stdout(output), redirect_stderr(output):      # what the instructor would see
        status = grade(course, ASSIGNMENT, "--timeout", str(TIMEOUT), "--workers", "2")
        commands.instructor(["feedback", "--assignment", ASSIGNMENT, "--course", str(course)])
        exported = commands.instructor(["export", "--assignment", ASSIGNMENT, "--csv", str(grades),
                                    "--course", str(course)])
    print(output.getvalue())                                    # shown by pytest on a failure
    after = fingerprint(course, COURSE / "classroom", COURSE / "hidden")
    report = json.loads((course / "reports" / ASSIGNMENT / "grading.json").read_text())
    return {"course": course, "status": status, "before": before, "after": after,
            "report": report, "attacks": planned, "output": output.getvalue(),
            "exported": exported, "csv": grades.read_text() if grades.exists() else ""}


def test_the_batch_is_graded(batch):
    assert batch["status"] == 0


@pytest.mark.parametrize("student, expected", [("honest", FULL), ("wrong", EARNED),
                                               ("blank", dict.fromkeys(FULL, 0))])
def test_honest_wrong_and_blank_get_exactly_their_marks(batch, student, expected):
    assert scores(batch["course"], ASSIGNMENT, student) == expected


@pytest.mark.parametrize("name", sorted(attacks("/course")))
def test_each_hostile_submission_scores_only_what_its_answers_earn(batch, name):
    lost = {LOSES[name]: 0} if name in LOSES else {}
    assert scores(batch["course"], ASSIGNMENT, name) == dict(EARNED, **lost)


@pytest.mark.parametrize("name", sorted(attacks("/course")))
def test_the_flags_name_the_attempt(batch, name):
    wanted = batch["attacks"][name][1]
    raised = {f["flag"] for f in batch["report"][name]}
    assert wanted <= raised, f"{name}: wanted {wanted}, report has {raised}"


def test_flag_names_come_from_the_vocabulary(batch):
    from classroom.grader.flag_names import FLAG_NAMES, UNKNOWN_FLAG
    raised = {f["flag"] for found in batch["report"].values() for f in found}
    assert raised <= set(FLAG_NAMES) | {UNKNOWN_FLAG}, raised - set(FLAG_NAMES)


def test_no_student_text_reaches_the_terminal_or_the_csv_raw(batch):
    assert batch["exported"] == 0, batch["output"][-3000:]
    assert len(batch["csv"].splitlines()) == 1 + 3 + len(batch["attacks"])
    assert formula_cells(batch["csv"]) == []
    assert control_characters(batch["output"]) == [] and control_characters(batch["csv"]) == []


@pytest.mark.parametrize("name, odd", [("huge_number", HUGE_NUMBER), ("text_for_a_number", TEXT_FOR_NUMBER),
                                       ("bools_for_a_letter", MANY_FOR_ONE)])
def test_an_answer_no_comparison_could_read_is_wrong_and_flagged(batch, name, odd):
    cell = LOSES.get(name, "test_count_anchors")
    found = [f for f in batch["report"][name] if f["flag"] == "odd_answer"]
    assert [f["cell"] for f in found] == [cell] and odd in found[0]["detail"]


def test_a_case_that_never_returns_is_reported_as_a_timeout(batch):
    found = [f for f in batch["report"]["slow_hidden_case"] if f["flag"] == "timeout"]
    assert [f["cell"] for f in found] == ["test_count_anchors"]
    assert found[0]["detail"].endswith(f"did not finish within {TIMEOUT} s")
    page = (batch["course"] / "feedback" / "slow_hidden_case" / ASSIGNMENT / "anchors.html").read_text()
    assert f"one of them did not finish within {TIMEOUT} s" in page
    assert "visible check" not in page                     # the notebook's own checks passed


def test_honest_wrong_and_blank_raise_no_flags(batch):
    for student in ("honest", "wrong", "blank"):
        assert [f for f in batch["report"][student] if f["flag"] != "colab"] == []


def test_nothing_outside_the_sandboxes_changed(batch):
    import time
    time.sleep(4)                                  # past the detached writer's delay
    assert batch["before"] == fingerprint(batch["course"], COURSE / "classroom", COURSE / "hidden")
    assert batch["before"] == batch["after"]
    assert not (batch["course"] / "pwned").exists()
    assert not os.path.exists(PWNED)
    assert len(list((batch["course"] / "submitted").iterdir())) == 3 + len(batch["attacks"])


def test_no_process_of_a_sandbox_outlives_the_batch(batch):
    from classroom.grader import sandbox
    running = sandbox.process_counts()
    assert not {uid for uid in running if sandbox.FIRST_UID <= uid < sandbox.FIRST_UID + 64
                or sandbox.FIRST_DRIVER_UID <= uid < sandbox.FIRST_DRIVER_UID + 64}


def test_the_driver_and_its_record_are_out_of_the_kernels_reach(batch):
    """The kernel tried to signal, trace and read the driver, take its descriptors and erase its
    audit channel: every try failed, the driver recorded every answer (the scores above), and
    what the hook saw before the channel was redirected reached the report, with the flood and
    the redirection flagged."""
    executed = (batch["course"] / "autograded" / "attack_the_driver" / ASSIGNMENT / "anchors.ipynb")
    printed = "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells
                      for o in c.get("outputs", []) if c.source == ATTACK_THE_DRIVER)
    for attempt in ("read /proc/driver/mem", "read /proc/driver/environ", "read /proc/driver/fd/1",
                    "ptrace attach", "pidfd_getfd", "truncate the audit channel",
                    "reopen the audit channel"):
        assert f"{attempt} -> denied: " in printed, attempt
    assert "read back the audit channel -> b''" in printed
    level = json.loads((batch["course"] / "reports" / ASSIGNMENT / "results.json").read_text())["sandbox"]
    # the driver's memory, environment, descriptors (3 ways); as another uid, signals too (4)
    signals = 4 if level.startswith("namespaces-root") else 0
    assert printed.count("-> denied: PermissionError") == 5 + signals
    seen = {f["flag"] for f in batch["report"]["attack_the_driver"] if f["cell"] is None}
    assert {"signal", "native_code", "process_access", "audit_flood", "audit_gap"} <= seen
    assert "incomplete" not in seen


def test_what_frames_can_still_do_is_flagged(batch):
    """In-process, a function can reach the recorder's frame and change its own record (its
    anchor_size scores 0 although the function is right): the audit hook saw it."""
    seen = {(f["flag"], f["cell"]) for f in batch["report"]["forge_through_frames"]}
    assert ("introspection", None) in seen


def test_no_hidden_test_or_course_file_reached_a_submissions_output(batch):
    hidden = (COURSE / "hidden" / f"{ASSIGNMENT}.py").read_text()
    for name, error in (("read_course_files", "FileNotFoundError"),
                        ("read_gradebook", "unable to open database file")):
        executed = (batch["course"] / "autograded" / name / ASSIGNMENT / "anchors.ipynb").read_text()
        assert "library_anchor_count" not in executed and "def small_config_problem" not in executed
        assert error in executed                           # the attempt ran and failed
    assert "library_anchor_count" in hidden


def hidden_fragments():
    """Texts that would betray a hidden case of assignment 1: its inputs and expected values."""
    from classroom.grader import spec
    exercises = spec.load(CourseFolder(COURSE).hidden_file(ASSIGNMENT))
    cases = spec.draw_cases(exercises, grading.DEFAULT_SECRET)
    fragments = set()
    for exercise in exercises:
        for case in cases.get(exercise.grade_id, [])[exercise.visible:]:
            fragments.add(repr(tuple(case)))
            fragments |= {repr(tuple(a)) for a in case if isinstance(a, (tuple, list)) and len(a) > 1}
            value = exercise.expected(*case)
            if isinstance(value, int) and value > 100:
                fragments.add(f"{value}")
    return fragments


def test_feedback_reveals_no_hidden_case(batch):
    fragments = hidden_fragments()
    assert len(fragments) > 10
    leaked = (batch["course"] / "autograded" / "leak_hidden_cases" / ASSIGNMENT / "anchors.ipynb").read_text()
    assert "(200, 300)" in leaked                          # the student's code did print them ...
    for student in ("honest", "wrong", "blank", *batch["attacks"]):
        page = (batch["course"] / "feedback" / student / ASSIGNMENT / "anchors.html").read_text()
        found = sorted(f for f in fragments if f in page)
        assert found == [], f"{student}'s feedback shows hidden cases: {found}"   # ... not here
        assert "<script" not in page and "pwned" not in page


def test_executed_notebooks_are_capped(batch):
    flood = batch["course"] / "autograded" / "output_flood" / ASSIGNMENT / "anchors.ipynb"
    assert flood.stat().st_size < 2_000_000


# ---------------------------------------------------------------- hostile archives for collect

def test_collect_never_writes_outside_and_reports_links_and_bombs(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE / "release", course / "release")
    good = nbformat.writes(fill(COURSE / "release" / ASSIGNMENT / "anchors.ipynb", SOLUTIONS))
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("../../escape_anchors.ipynb", good)
        zf.writestr("/etc/absolute_anchors.ipynb", good)
        link = zipfile.ZipInfo("linked_anchors.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(COURSE / "source" / ASSIGNMENT / "anchors.ipynb"))
        zf.writestr("bomb_anchors.ipynb", b"{" + b" " * 60_000_000 + b"}")
    report = collecting.collect(archive, ASSIGNMENT, course)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.ipynb")
                     if "release" not in p.parts)
    assert written == ["course/submitted/absolute/01_anchors/anchors.ipynb",
                       "course/submitted/escape/01_anchors/anchors.ipynb"]
    assert [s for s, _ in report["too_large"]] == ["bomb_anchors.ipynb"]
    assert [s for s, _ in report["link"]] == ["linked_anchors.ipynb"]

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "mallory_anchors.ipynb").symlink_to(COURSE / "source" / ASSIGNMENT / "anchors.ipynb")
    report = collecting.collect(folder, ASSIGNMENT, course)
    assert [s for s, _ in report["link"]] == ["mallory_anchors.ipynb"]
    assert not (course / "submitted" / "mallory").exists()


# ---------------------------------------------------------------- names that used to stop collect

def zip_with_raw_names(path, files):
    """A zip of {name: bytes}; a ``bytes`` name is stored as it is, without the UTF-8 flag (as
    tools that write cp437 or unflagged UTF-8 do): written under an ASCII stand-in, then patched."""
    stand_ins = {}
    with zipfile.ZipFile(path, "w") as zf:
        for k, (name, data) in enumerate(files.items()):
            if isinstance(name, bytes):
                stand_ins[name] = f"{k:0{len(name)}d}".encode()
                name = stand_ins[name].decode()
            zf.writestr(name, data)
    archive = path.read_bytes()
    for raw, stand_in in stand_ins.items():
        assert archive.count(stand_in) == 2                 # local header and central directory
        archive = archive.replace(stand_in, raw)
    path.write_bytes(archive)


def too_long_for_a_folder(name, where):
    """True where the file system refuses ``name`` as a folder name (the crash collect had)."""
    import errno
    try:
        (where / name).mkdir()
    except OSError as error:
        return error.errno == errno.ENAMETOOLONG
    return False


def collected(course):
    return sorted(p.name for p in (course / "submitted").iterdir())


def test_collect_shortens_long_and_odd_zip_names_and_collects_the_rest(tmp_path, capsys):
    collect_module = collecting
    good = nbformat.writes(fill(COURSE / "release" / ASSIGNMENT / "anchors.ipynb", SOLUTIONS))
    long_start = "Long Name " + "a" * 290
    ordinary = {"amy_anchors.ipynb": "amy", "Copy of anchors - Ben.ipynb": "ben",
                "carl/anchors.ipynb": "carl", "ﷺ" * 100 + " emil.ipynb": "emil",
                "José_anchors.ipynb".encode(): "jose"}             # UTF-8 without the flag
    shortened = ["x" * 300 + "_anchors.ipynb", long_start + "1.ipynb", long_start + "2.ipynb",
                 "ﬃ" * 120 + " dora.ipynb"]               # NFKC/NFKD: 'ﬃ' -> 'ffi'
    climbing = {"../../fay_anchors.ipynb": "fay", "/abs/gus_anchors.ipynb": "gus",
                "a/../hal_anchors.ipynb": "hal", "..\\..\\ida_anchors.ipynb": "ida"}  # Windows
    not_utf8 = {b"\xff\xfeivy_anchors.ipynb": "ivy"}        # read as cp437: '\xa0■ivy_anchors'
    archive = tmp_path / "odd.zip"
    zip_with_raw_names(archive, dict.fromkeys([*ordinary, *shortened, *climbing, *not_utf8], good))
    assert too_long_for_a_folder(collect_module.student_id(shortened[0], ["anchors"]), tmp_path)

    course = tmp_path / "course"
    shutil.copytree(COURSE / "release", course / "release")
    report = collecting.collect(archive, ASSIGNMENT, course)
    short = [collect_module.short_id(collect_module.student_id(n, ["anchors", ASSIGNMENT]))
             for n in shortened]
    assert len(set(short)) == 4 and all(len(s) == collect_module.MAX_ID_LENGTH for s in short)
    assert short[1][:40] == short[2][:40] == "long_name_" + "a" * 30      # recognisable, apart
    assert collected(course) == sorted([*ordinary.values(), *short, *climbing.values(),
                                        *not_utf8.values()])
    assert len(report["copied"]) == len(ordinary) + len(shortened) + len(climbing) + len(not_utf8)
    renamed = {source: note for source, note in report["renamed"]}
    assert set(renamed) == {*shortened, *(n.replace("\\", "/") for n in climbing),
                            "\xa0■ivy_anchors.ipynb"}
    assert "cut to its start" in renamed[shortened[0]] and "cp437" in renamed["\xa0■ivy_anchors.ipynb"]
    printed = capsys.readouterr().out
    assert "renamed    " + "x" * 300 + f"_anchors.ipynb -> submitted/{short[0]}/" in printed

    again = tmp_path / "again"                             # same input, same output
    shutil.copytree(COURSE / "release", again / "release")
    collecting.collect(archive, ASSIGNMENT, again)
    assert collected(again) == collected(course)
    unchanged = collecting.collect(archive, ASSIGNMENT, course)["unchanged"]
    assert len(unchanged) == len(report["copied"])
    names = tmp_path / "names.csv"                        # --map names are shortened the same way
    names.write_text(f"file,student\namy_anchors.ipynb,{'Zed ' * 40}\n")
    assert collect_module.read_map(names) == {
        "amy_anchors.ipynb": collect_module.short_id("_".join(["zed"] * 40))}

    damaged = tmp_path / "damaged.zip"                     # a bad CRC costs only its entry
    with zipfile.ZipFile(damaged, "w") as zf:
        zf.writestr("kim_anchors.ipynb", '{"cells": "AAAA"}')
        zf.writestr("lea_anchors.ipynb", good)
    damaged.write_bytes(damaged.read_bytes().replace(b"AAAA", b"BBBB"))
    report = collecting.collect(damaged, ASSIGNMENT, course)
    assert [s for s, _ in report["unreadable"]] == ["kim_anchors.ipynb"]
    assert [s for s, _ in report["copied"]] == ["lea_anchors.ipynb"]
    flagged = tmp_path / "flagged.zip"        # flagged UTF-8 but not: zipfile refuses the archive
    with zipfile.ZipFile(flagged, "w") as zf:
        zf.writestr("é_anchors.ipynb", good)
    assert flagged.read_bytes().count("é".encode()) == 2
    flagged.write_bytes(flagged.read_bytes().replace("é".encode(), b"\xff\xfe"))
    report = collecting.collect(flagged, ASSIGNMENT, course)
    assert [s for s, _ in report["unreadable"]] == ["flagged.zip"]


def test_collect_survives_odd_names_and_paths_too_long_in_a_folder(tmp_path, capsys):
    collect_module = collecting
    good = nbformat.writes(fill(COURSE / "release" / ASSIGNMENT / "anchors.ipynb", SOLUTIONS))
    folder = tmp_path / "downloads"
    (folder / "carl").mkdir(parents=True)
    (folder / "amy_anchors.ipynb").write_text(good)
    (folder / "carl" / "anchors.ipynb").write_text(good)
    expanding = "ⅷ" * 80 + " pat.ipynb"                   # 250 bytes; NFKD: 'ⅷ' -> 'viii'
    (folder / expanding).write_text(good)
    (folder / "\x1b[31mrita_anchors.ipynb").write_text(good)
    with open(os.path.join(bytes(folder), b"\xffquinn_anchors.ipynb"), "w") as f:   # not UTF-8
        f.write(good)
    (folder / "linked").symlink_to(folder / "carl")
    fd = os.open(folder, os.O_RDONLY)                      # a path longer than PATH_MAX (4096)
    for _ in range(18):
        os.mkdir("d" * 250, dir_fd=fd)
        inner = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    deep = os.open("sam_anchors.ipynb", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(deep, good.encode())
    os.close(deep)
    os.close(fd)
    long_id = collect_module.student_id(expanding, ["anchors", ASSIGNMENT])
    assert len(long_id) > 300 and too_long_for_a_folder(long_id, tmp_path)

    course = tmp_path / "course"
    shutil.copytree(COURSE / "release", course / "release")
    report = collecting.collect(folder, ASSIGNMENT, course)
    assert collected(course) == sorted(["amy", "carl", collect_module.short_id(long_id),
                                        "31mrita", "quinn"])
    assert {s for s, _ in report["renamed"]} == {expanding, "\x1b[31mrita_anchors.ipynb",
                                                 "\udcffquinn_anchors.ipynb"}
    assert [s for s, _ in report["link"]] == ["linked"]
    assert any("too long" in reason for _, reason in report["unreadable"])
    printed = capsys.readouterr().out
    assert "\\x1b[31mrita" in printed and "\\udcffquinn" in printed
    assert "\x1b" not in printed and "\udcff" not in printed
