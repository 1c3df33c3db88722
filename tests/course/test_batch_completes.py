"""The batch always completes (issue 19, item 1), in-process: any answer a notebook can produce
gets a verdict from the comparison and from the judge of every exercise; any line of a
sandbox's report that is not one of the driver's events leaves only that submission "not
graded", with a flag naming the reason; a judge failure on one student names the student on
the terminal, in the report, the gradebook, the CSV and the feedback, and the rest are graded.
The sandboxed versions (10**400, bools for a letter, a case that never returns) are attacks in
test_hostile.py."""

import json
import os
import shutil
import sys

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from boxloc.exercises import (HUGE_NUMBER, MANY_FOR_ONE, TEXT_FOR_NUMBER, UNCOMPARABLE, Mismatch,
                              compare, difference)
from classroom import exporting, grading
from classroom.layout import CourseFolder
from course_helpers import COURSE

from classroom.grader import batch, events, integrity, judge, plain, records, sandbox, spec

ASSIGNMENT = "01_anchors"
RELEASE = nbformat.read(COURSE / "release" / ASSIGNMENT / "anchors.ipynb", as_version=4)
ODD = {"", HUGE_NUMBER, TEXT_FOR_NUMBER, MANY_FOR_ONE, UNCOMPARABLE}

# ---------------------------------------------------------------- any value a notebook returns

DTYPES = ["bool", "int8", "int64", "uint8", "uint64", "float16", "float32", "float64",
          "complex64", "<U3", "object"]


def numpy_array(shape, dtype, seed):
    """An array of small integers as ``dtype`` (negative ones wrap in unsigned types; object
    arrays hold integers too large for a float, float arrays a NaN and an infinity)."""
    data = np.random.default_rng(seed).integers(-3, 4, size=shape)
    if dtype == "object":
        return data.astype(object) * 10 ** 400
    array = data.astype(dtype)
    if array.dtype.kind == "f" and array.size >= 2:
        array.flat[:2] = [np.nan, np.inf]
    return array


huge_ints = st.builds(lambda digits, sign: sign * 10 ** digits, st.integers(18, 5000),
                      st.sampled_from([1, -1]))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), huge_ints,
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
    st.sampled_from(["3", "-1", "10710", "1.0", "nan", "b", " B ", "True"]), st.binary(max_size=4),
    st.builds(np.int64, st.integers(-2**63, 2**63 - 1)), st.just(np.uint64(2**64 - 1)),
    st.builds(np.float32, st.floats(width=32)), st.builds(np.bool_, st.booleans()),
    st.complex_numbers(max_magnitude=10))
arrays = st.builds(numpy_array, st.lists(st.integers(0, 3), max_size=4), st.sampled_from(DTYPES),
                   st.integers(0, 1000))
answers = st.recursive(st.one_of(scalars, arrays), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=4), inner, max_size=3)), max_leaves=10)


@settings(max_examples=400, deadline=None)
@given(answers, answers)
def test_the_comparison_gives_any_two_values_a_verdict(got, expected):
    found = compare(got, expected)
    assert found is None or (type(found) is Mismatch and type(found.text) is str and found.odd in ODD)
    assert difference(got, expected) == (found.text if found else None)


def judged_exercises():
    """(exercise, its expected values) of every kind: the exercises of assignments 1 and 4 with
    the library's expected values of their cases, the forms assignments 2 and 3 expect (their
    expected values need Keras), and an ``exact`` exercise."""
    found = []
    for assignment in ("01_anchors", "04_inference"):
        exercises = spec.load(CourseFolder(COURSE).hidden_file(assignment))
        cases = spec.draw_cases(exercises, "property")
        for exercise in exercises:
            if exercise.judge is not None:
                found.append((exercise, [None] * len(cases.get(exercise.grade_id, [None]))
                              if exercise.record.calls else None))
            elif exercise.record.calls:
                found.append((exercise, [exercise.expected(*c) for c in cases[exercise.grade_id][:3]]))
            else:
                found.append((exercise, exercise.expected))
    forms = {"feature_map_size": [(30, 30)], "contracting_arm": [([(120, 120, 8), (60, 60, 16)], 1234)],
             "top_down": [((2, 3, 8), 880, np.linspace(-1, 1, 2 * 2 * 3 * 8).reshape(1, 2, 2, 3, 8))],
             "pyramid_serves": [True, False], "head_outputs": [{"cls-c3": 9, "reg-c3": 36}],
             "focal_elements": [np.zeros((2, 1, 5, 5, 9))], "masked_mean": [0.25]}
    found += [(spec.Exercise(name, spec.call(name), lambda rng: [], expected=lambda: None), wanted)
              for name, wanted in forms.items()]
    found.append((spec.Exercise("exact", spec.value("x"), expected=(1, "a"), kind="exact"), (1, "a")))
    return found


JUDGED = judged_exercises()


def recorded(value):
    """The record the driver keeps of ``value`` (after a JSON round trip, as the judge reads it)."""
    try:
        result = {"ok": plain.to_plain(plain.answer_value(value))}
    except plain.NotPlain as error:
        result = {"rejected": str(error)}
    return json.loads(json.dumps(result))


@pytest.mark.parametrize("exercise, wanted", JUDGED, ids=[e.grade_id for e, _ in JUDGED])
@settings(max_examples=40, deadline=None)
@given(got=answers)
def test_every_exercise_gives_any_answer_a_verdict(exercise, wanted, got):
    cases = len(wanted) if exercise.record.calls else 1
    found = judge.verdict(exercise, [recorded(got)] * cases, wanted)
    assert type(found["passed"]) is bool and found["cases"] == cases
    assert all(type(p) is str for p in found["problems"] + found["odd"])


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["$array", "$tuple", "$float", "dtype", "shape", "data", "a"]), inner, max_size=3)),
    max_leaves=10)
records_of_any_form = st.lists(st.one_of(
    st.dictionaries(st.sampled_from(["ok", "error", "rejected", "timeout", "skipped", "x"]),
                    json_values, min_size=1, max_size=2), json_values), max_size=4)


@settings(max_examples=200, deadline=None)
@given(records_of_any_form, st.sampled_from(JUDGED))
def test_forged_records_get_a_verdict(results, judged):
    exercise, wanted = judged
    found = judge.verdict(exercise, results, wanted)
    assert found["passed"] is False or results


@pytest.mark.parametrize("got, expected, kind, odd", [
    (10 ** 400, 10710, "number", HUGE_NUMBER),
    (np.array([True, False, True]), True, "number", MANY_FOR_ONE),
    (np.array([True, False]), "b", "choice", MANY_FOR_ONE),
    ({"c": np.array([1, 2])}, {"c": "q"}, "choice", MANY_FOR_ONE),
    ("3", 3, "number", TEXT_FOR_NUMBER),
    (["30", 30], (30, 30), "number", TEXT_FOR_NUMBER),
    (np.array([2 ** 64 - 1], dtype=np.uint64), [-1], "number", ""),
    (np.uint64(2 ** 64 - 1), -1, "number", ""),
    (float("nan"), 1.0, "number", ""), (None, 3, "number", "")])
def test_odd_answers_are_wrong_and_say_why(got, expected, kind, odd):
    exercise = spec.Exercise("t", spec.value("x"), expected=expected, kind=kind)
    found = judge.verdict(exercise, [recorded(got)], expected)
    assert not found["passed"]
    assert found["odd"] == ([f"case 1: {odd}"] if odd else [])


def test_text_for_a_number_is_refused_with_a_clear_message():
    assert difference("3", 3) == "expected 3, got '3': text is not a number"
    assert difference(10 ** 400, 10710) == \
        "expected 10710, got <an integer of about 401 digits>: too large for a float"


def test_a_uint64_that_wrapped_around_is_not_minus_one():
    wrapped = np.array([-1, 2]).astype(np.uint64)
    assert plain.loads(plain.dumps(wrapped)).tolist() == [2 ** 64 - 1, 2]
    assert judge.compare(spec.Exercise("t", spec.value("x"), expected=0),
                         plain.loads(plain.dumps(wrapped)), [-1, 2])


def test_a_case_that_did_not_finish_says_so_instead_of_the_expected_value():
    exercise = spec.Exercise("t", spec.call("f"), lambda rng: [], expected=lambda n: n, visible=2)
    results = [{"ok": 1}, {"timeout": 3.0}, {"skipped": "after_unfinished"}, {"skipped": "after_unfinished"}]
    found = judge.verdict(exercise, results, [1, 2, 3, 4])
    assert found["visible"] == [{"case": 1, "passed": True, "expected": "1"},
                                {"case": 2, "passed": False, "expected": "2",
                                 "note": "did not finish within 3 s",
                                 "explained": "did not finish within 3 s"}]
    assert found["hidden_failed"] == 2
    assert found["hidden_notes"] == ["was not run: an earlier case did not finish"]
    page = records.feedback_html("s", "a", "n", {"test_count_anchors": found}, RELEASE)
    assert "✗ check 2, “a single level” did not finish within 3 s" in page
    assert "expected" not in page.split("did not finish")[0].rsplit("check 2", 1)[-1]


# ---------------------------------------------------------------- a sandbox's report

EVENT_KEYS = sorted({k for required, optional in events.FORMS.values() for k in {**required, **optional}})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_an_event_or_malformed(line):
    for candidate in (line, line + b"\n"):
        try:
            event = events.parse(candidate)
        except events.Malformed as fault:
            assert str(fault)
        else:
            assert event["event"] in events.FORMS


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(events.FORMS) + ["forged"]),
       st.dictionaries(st.sampled_from(EVENT_KEYS + ["extra"]), json_values, max_size=4))
def test_any_object_is_an_event_or_malformed(kind, fields):
    line = json.dumps({"event": kind, **fields}).encode() + b"\n"
    try:
        event = events.parse(line)
    except events.Malformed as fault:
        assert str(fault)
    else:
        assert event["event"] == kind and set(event) - {"event"} <= set(EVENT_KEYS)


HONEST_EVENTS = [
    {"event": "started"},
    {"event": "cell", "index": 3, "grade_id": "test_count_anchors", "status": "ok", "text": "✓\n",
     "flooded": False, "error": ""},
    {"event": "cell", "index": 9, "grade_id": None, "status": "skipped", "text": "time limit"},
    {"event": "answer", "grade_id": "test_count_anchors",
     "results": [{"ok": 3}, {"error": "NameError: x"}, {"rejected": "object"}, {"timeout": 20.0},
                 {"skipped": "after_unfinished"}]},
    {"event": "kernel", "detail": "cell 3: timeout"}, {"event": "audit", "items": ["{}"]},
    {"event": "ipython", "start": "{}", "end": None}, {"event": "notebook", "notebook": {"cells": []}},
    {"event": "done"}]


@pytest.mark.parametrize("event", HONEST_EVENTS, ids=lambda e: e["event"])
def test_the_drivers_events_are_read(event):
    assert events.parse(json.dumps(event).encode() + b"\n") == event


@pytest.mark.parametrize("line, fault", [
    (b'{"event": "answer", "grade_id": ["test_count_anchors"], "results": []}\n',
     "answer event: grade_id has the wrong form (a list)"),
    (b'{"event": "answer", "grade_id": "t", "results": [{"ok": 1, "error": "x"}]}\n',
     "answer event: results has the wrong form (a list)"),
    (b'{"event": "answer", "grade_id": "t", "results": [{"timeout": "forever"}]}\n',
     "results has the wrong form"),
    (b'{"event": "done", "grade": 11}\n', "done event with an unknown key"),
    (b'{"event": "answer", "grade_id": "t"}\n', "answer event without results"),
    (b'{"event": "grade", "points": 11}\n', "an event of no known kind"),
    (b'[{"event": "done"}]\n', "a list where an event object is expected"),
    (b'"done"\n', "a string where an event object is expected"),
    (b'{"event": "kernel", "detail": "\xff\xfe"}\n', "a line that is not UTF-8"),
    (b'{"event": "done"\n', "a line that is not JSON"),
    (b"[" * 100_000 + b"\n", "a line that is not JSON"),
    (b'{"event": "done"}', "a line cut short")])
def test_a_malformed_line_is_named_never_quoted(line, fault):
    with pytest.raises(events.Malformed) as raised:
        events.parse(line)
    assert fault in str(raised.value)
    assert "test_count_anchors" not in str(raised.value)


def test_a_garbled_report_is_read_to_its_end_with_its_faults_listed(tmp_path):
    lines = [b'{"event": "kernel", "detail": "x"}', b"\xff\xfe", b"[1, 2]", b'{"event": "done"}']
    report = b"".join(line + b"\n" for line in lines)
    script = f"import sys; sys.stdout.buffer.write({report!r})"
    result = sandbox._collect([sys.executable, "-c", script], tmp_path, dict(os.environ),
                              sandbox.Limits(notebook_timeout=60), False)
    assert [e["event"] for e in result.events] == ["kernel", "done"]
    assert result.malformed == ["line 2: a line that is not UTF-8",
                                "line 3: a list where an event object is expected"]


def test_a_report_over_the_size_cap_is_stopped_and_malformed(tmp_path):
    script = "import sys; sys.stdout.write('x' * 3_000_000 + '\\n')"
    result = sandbox._collect([sys.executable, "-c", script], tmp_path, dict(os.environ),
                              sandbox.Limits(notebook_timeout=60, output_mb=1), False)
    assert result.killed == "output_flood"
    assert result.malformed == ["more than 1 MB of report"]


def report_of(lines, killed=""):
    """A sandbox.Result of these raw lines, read as sandbox._collect reads them."""
    result = sandbox.Result(returncode=0, killed=killed)
    for number, line in enumerate(lines, 1):
        sandbox._read_event(line, number, result)
    return result


def right_answers(plan, exercises):
    """Report lines of a submission whose every exercise with an expected value is right."""
    lines = [{"event": "started"}]
    for exercise in exercises:
        entry = plan[exercise.grade_id]
        if exercise.judge is not None:
            values = [None]
        elif entry["calls"]:
            values = [exercise.expected(*plain.from_plain(c)) for c in entry["cases"]]
        else:
            values = [exercise.expected]
        results = [{"ok": plain.to_plain(v)} for v in values]
        lines.append({"event": "answer", "grade_id": exercise.grade_id, "results": results})
    return [json.dumps(e).encode() + b"\n" for e in lines + [{"event": "done"}]]


def test_a_malformed_report_leaves_only_that_submission_ungraded(tmp_path, monkeypatch):
    """Two submissions in one batch (sandboxes stubbed, the real judge): the one whose report
    holds a forged line is not graded, flagged with the reason; the other is graded."""
    exercises, _, plan = batch.plan_for(COURSE, ASSIGNMENT, {"anchors": RELEASE}, "s")
    honest = right_answers(plan, exercises)
    forged = honest[:1] + [b'{"event": "answer", "grade_id": ["x"], "results": []}\n'] + honest[1:]
    for student in ("honest", "forged"):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(student)])
        nbformat.write(nb, tmp_path / f"{student}.ipynb")
    monkeypatch.setattr(sandbox, "run", lambda job, nb_bytes, *a, **k: report_of(
        forged if b"forged" in nb_bytes else honest))
    graded = batch.grade_batch(COURSE, ASSIGNMENT, [
        batch.Submission(s, "anchors", tmp_path / f"{s}.ipynb") for s in ("honest", "forged")],
        {"anchors": RELEASE}, 1, sandbox.Limits(), "none", "s", progress=lambda *a: None)
    honest_graded, forged_graded = graded
    assert honest_graded.not_graded == "" and set(honest_graded.verdicts) == set(plan)
    assert all(v["passed"] for gid, v in honest_graded.verdicts.items() if gid != "test_small_config")
    assert forged_graded.not_graded == ("the sandbox's report is malformed: line 2: answer "
                                        "event: grade_id has the wrong form (a list)")
    assert forged_graded.verdicts == {}
    assert [f["flag"] for f in forged_graded.flags] == ["malformed_report"]


HONEST_LINES = [json.dumps(e).encode() + b"\n" for e in HONEST_EVENTS]
garbage_lines = st.one_of(st.binary(max_size=60), st.builds(
    lambda kind, fields: json.dumps({"event": kind, **fields}).encode() + b"\n",
    st.sampled_from(sorted(events.FORMS)), st.dictionaries(st.sampled_from(EVENT_KEYS), json_values, max_size=3)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(HONEST_LINES), garbage_lines), max_size=8))
def test_any_report_gives_a_graded_or_a_not_graded_submission(lines):
    result = report_of(lines)
    graded = batch.Graded("s", "anchors")
    batch.read_report(graded, result, {"test_count_anchors": {}})
    unasked = any(e["event"] == "answer" and e["grade_id"] != "test_count_anchors" for e in result.events)
    assert bool(graded.not_graded) == (any(map(_malformed, lines)) or unasked)
    assert [f["flag"] for f in graded.flags] == (["malformed_report"] if graded.not_graded else [])


def _malformed(line):
    try:
        events.parse(line)
        return False
    except events.Malformed:
        return True


def test_an_answer_for_an_exercise_not_asked_for_is_malformed():
    plan = {"test_count_anchors": {}}
    result = report_of([b'{"event": "answer", "grade_id": "test_other", "results": []}\n',
                        b'{"event": "done"}\n'])
    graded = batch.Graded("s", "anchors")
    batch.read_report(graded, result, plan)
    assert "an answer for an exercise that was not asked for" in graded.not_graded


def test_a_line_cut_by_the_wall_clock_is_no_fault():
    assert report_of([b'{"event": "done"}\n', b'{"event": "notebo'], killed="wall_clock").malformed == []
    assert report_of([b'{"event": "done"}\n', b'{"event": "notebo']).malformed == \
        ["line 2: a line cut short (no newline)"]


# ---------------------------------------------------------------- a judge failure on one student

def test_a_judge_failure_names_the_student_and_the_class_is_judged(tmp_path, monkeypatch):
    exercises, cases, plan = batch.plan_for(COURSE, ASSIGNMENT, {"anchors": RELEASE}, "s")
    answers = {"alice": {"test_refinement": [{"ok": "b"}]},
               "mallory": {"test_refinement": [{"ok": "boom"}]}}
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"hidden": str(CourseFolder(COURSE).hidden_file(ASSIGNMENT)),
                                   "cases": cases, "answers": answers}))
    real = judge.verdict

    def faulty(exercise, results, expected):
        if results == [{"ok": "boom"}]:
            raise RuntimeError("a fault of the judge's own")
        return real(exercise, results, expected)
    monkeypatch.setattr(judge, "verdict", faulty)
    judge.main(request, tmp_path / "verdicts.json")
    result = json.loads((tmp_path / "verdicts.json").read_text())
    assert result["failures"] == {"mallory": "RuntimeError: a fault of the judge's own"}
    assert result["verdicts"]["alice"]["test_refinement"]["passed"]


def tiny_course(tmp_path):
    """A course folder with assignment 1's release and a gradebook made from it (no nbgrader
    run): enough for write_results, export and feedback."""
    from nbgrader.api import Gradebook
    course = tmp_path / "course"
    shutil.copytree(COURSE / "release" / ASSIGNMENT, course / "release" / ASSIGNMENT)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT)
        gradebook.update_or_create_notebook("anchors", ASSIGNMENT)
        for gid, points in records.points_of(RELEASE).items():
            gradebook.update_or_create_grade_cell(gid, "anchors", ASSIGNMENT, max_score=points,
                                                  cell_type="code")
    integrity.snapshot(course, [ASSIGNMENT])
    return course


def test_a_student_the_judge_failed_on_is_named_everywhere_and_graded_by_hand(tmp_path, capsys):
    course = tiny_course(tmp_path)
    alice, mallory = batch.Graded("alice", "anchors"), batch.Graded("mallory", "anchors")
    passed = {"passed": True, "cases": 1, "visible": [], "problems": [], "odd": []}
    verdicts = {gid: passed for gid in records.points_of(RELEASE)}
    batch.attach_verdicts({"verdicts": {"alice": verdicts}, "failures": {"mallory": "RuntimeError: x"}},
                          [alice, mallory], {"anchors": RELEASE})
    assert "the judge failed on mallory (RuntimeError: x)" in capsys.readouterr().err
    assert mallory.not_graded == "the judge failed: RuntimeError: x" and not alice.not_graded
    assert grading.write_results(course, ASSIGNMENT, {"alice": [], "mallory": []},
                                    [alice, mallory], {"anchors": RELEASE}, "none") == 0
    assert "NOT GRADED: mallory / anchors: the judge failed" in capsys.readouterr().out
    report = json.loads((course / "reports" / ASSIGNMENT / "grading.json").read_text())
    assert [f["flag"] for f in report["mallory"]] == ["judge_failed"] and report["alice"] == []
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        grades = gradebook.find_submission(ASSIGNMENT, "mallory").notebooks[0].grades
        assert {(g.auto_score, g.needs_manual_grade) for g in grades} == {(None, True)}
    assert exporting.export(course, ASSIGNMENT, tmp_path / "grades.csv") == 0   # integrity holds
    rows = (tmp_path / "grades.csv").read_text().splitlines()
    points = records.points_of(RELEASE)
    assert rows[1] == ",".join(["alice", *(f"{p:g}" for p in points.values()),
                                f"{sum(points.values()):g}", "", ""])          # flags, details
    assert rows[2] == "mallory" + "," * (len(points) + 2) + "judge_failed:anchors,"
    exporting.feedback(course, ASSIGNMENT)
    page = (course / "feedback" / "mallory" / ASSIGNMENT / "anchors.html").read_text()
    assert "not graded automatically: a teaching assistant grades this notebook" in page
    assert "RuntimeError" not in page
