"""The trusted judge: expected values and verdicts, in a clean interpreter.

    python -E -s -m classroom.grader.judge REQUEST.json VERDICTS.json     (from course/)

Started by the grader once per assignment and batch (``-E -s``: no PYTHONPATH, no user site;
the only folder on the path besides Python's own is the one that holds this package), after
every sandbox has finished. It imports the installed library
(which no sandbox can write), computes each case's expected value with the hidden tests'
``expected`` (once per case, for the whole class), and compares every student's recorded
answers, which arrive as plain data (``plain.py``), so no student object takes part.

REQUEST: {"hidden": path of course/hidden/<assignment>.py, "cases": {grade id: [plain case]},
          "answers": {student: {grade id: [result, ...]}}}
VERDICTS: {"expected_errors": {...}, "verdicts": {student: {grade id: {"passed", "cases",
           "failed", "problems", "odd", ...}}}, "failures": {student: why it was not judged}}

Every answer gets a verdict, whatever it holds: the comparison is total
(``boxloc.exercises.compare``: a number too large for a float, an array where one letter is
expected or text for a number is wrong, and ``odd`` says so for a flag), a hidden test's own
check that raises on an answer makes that case wrong, and anything else that fails while one
student is judged lands in ``failures`` under that student's name; the class is judged on.
"""

import json
import re
import sys
from pathlib import Path

from . import explain, plain, spec

# A case the driver did not run, by its code: what the instructor and the student read.
NOT_RUN = {"after_unfinished": "was not run: an earlier case did not finish",
           "notebook_time": "was not run: the notebook's time limit was reached"}
NOT_PLAIN = "recorded data that is not plain"
ERROR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,60}")     # an exception's type, as recorded


def normalise_choice(value):
    """A teaching assistant's reading of a letter answer: any case, surrounding spaces."""
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, dict):
        return {k: normalise_choice(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(normalise_choice(v) for v in value)
    return value


def compare(exercise, got, expected):
    """None if ``got`` is right for ``expected`` under the exercise's kind, else a
    ``boxloc.exercises.Mismatch`` (why, and whether the answer's form is odd). Never raises."""
    from boxloc.exercises import Mismatch, brief, compare as compare_values
    if exercise.kind == "choice":
        got, expected = normalise_choice(got), normalise_choice(expected)
    if exercise.kind == "exact":
        return None if _identical(got, expected) else \
            Mismatch(f"expected {brief(expected)}, got {brief(got)}")
    return compare_values(got, expected, exercise.tolerance)


def _identical(got, expected):
    """Same types and values all the way down (arrays: same dtype, shape and elements)."""
    import numpy as np
    if type(got) is not type(expected):
        return False
    if type(got) is np.ndarray:
        return got.dtype == expected.dtype and got.shape == expected.shape and \
            bool(np.array_equal(got, expected))
    if type(got) in (list, tuple):
        return len(got) == len(expected) and all(map(_identical, got, expected))
    if type(got) is dict:
        return got.keys() == expected.keys() and all(_identical(got[k], expected[k]) for k in got)
    return bool(got == expected)


def expected_values(exercises, cases):
    """{grade id: [expected per case] or the value}, computed once for the whole class."""
    table, errors = {}, {}
    for exercise in exercises:
        if exercise.judge is not None:          # checked by a property: no expected value
            if exercise.record.calls:
                table[exercise.grade_id] = [None] * len(cases[exercise.grade_id])
            continue
        try:
            if exercise.record.calls:
                table[exercise.grade_id] = [exercise.expected(*plain.from_plain(c))
                                            for c in cases[exercise.grade_id]]
            else:
                expected = exercise.expected
                table[exercise.grade_id] = expected() if callable(expected) else expected
        except Exception as error:     # a broken hidden test must not give or take marks
            errors[exercise.grade_id] = f"{type(error).__name__}: {error}"
    return table, errors


def verdict(exercise, results, expected):
    """Whether every case of one exercise is right. ``problems`` (for the instructor) says why,
    ``odd`` which answers had an odd form (for a flag). For the student: ``visible`` says which
    of the notebook's own cases failed, what was expected there and, in the exercise's words,
    what the answer gave instead (``explained``, ``explain.py``: summarised, never the whole
    answer) or that it did not finish in time (``note``); ``hidden`` counts the cases the
    notebook does not show and ``hidden_failed`` those that failed, ``hidden_notes`` says
    whether some did not finish (nothing of their inputs or answers: the student's code could
    carry the hidden inputs it was called with); ``answer`` explains a wrong single answer
    (value()) without its key; ``parts`` gives each part's points and whether it passed."""
    from boxloc.exercises import brief
    results = results or [{"error": "not recorded (the test cell did not run)"}]
    wanted = expected if exercise.record.calls else [expected]
    problems, passed, notes, odd, recorded, mismatches = [], [], [], [], [], []
    if exercise.record.calls and len(results) != len(wanted):
        problems.append(f"{len(results)} answers recorded for {len(wanted)} cases")
    for number, want in enumerate(wanted, 1):
        result = results[number - 1] if number <= len(results) else {"error": "not recorded"}
        mismatch, note = _judge_case(exercise, result, want)
        passed.append(mismatch is None)
        notes.append(note)
        recorded.append(result)
        mismatches.append(mismatch)
        if mismatch:
            problems.append(f"case {number}: {mismatch.text}"[:400])
            if mismatch.odd:
                odd.append(f"case {number}: {mismatch.odd}")
    visible = []
    for n, ok in enumerate(passed[:exercise.visible]):
        case = {"case": n + 1, "passed": ok, "expected": brief(wanted[n])}
        if not ok:
            case.update({"note": notes[n]} if notes[n] else {},
                        explained=notes[n] or student_words(exercise, recorded[n], wanted[n],
                                                            judged=mismatches[n]))
        visible.append(case)
    found = {"passed": not problems, "cases": len(wanted), "failed": passed.count(False),
             "hidden_failed": passed[exercise.visible:].count(False), "visible": visible,
             "hidden_notes": sorted(set(filter(None, notes[exercise.visible:]))),
             "hidden": exercise.hidden_cases(len(wanted)),
             "problems": problems[:10], "odd": odd[:10]}
    if exercise.others:
        found["others"] = exercise.others
    if not exercise.record.calls and problems:
        found["answer"] = notes[0] or student_words(exercise, recorded[0], wanted[0], reveal=False,
                                                    judged=mismatches[0])
    if exercise.parts and exercise.parts_problem(len(wanted)) is None:
        found["parts"] = [{"title": p.title, "points": p.points,
                           "passed": all(passed[n - 1] for n in p.cases)} for p in exercise.parts]
    return found


def broken_verdict(problem):
    """The verdict of an exercise that could not be judged for anyone (no points)."""
    return {"passed": False, "cases": 0, "failed": 0, "hidden_failed": 0, "visible": [],
            "hidden_notes": [], "hidden": 0, "problems": [problem], "odd": []}


def student_words(exercise, result, want, reveal=True, judged=None):
    """What a failed case gave, for the student, in the exercise's words (``explain.py``):
    an exception by its type only, a judge's own text (``judged``: the case's Mismatch), a
    wrong value summarised."""
    if not isinstance(result, dict) or len(result) != 1:
        return "was not recorded"
    (status, data), = result.items()
    if status == "error":
        name = str(data).split(":", 1)[0].strip()
        if "not recorded" in str(data):
            return "was not recorded (the test cell did not run)"
        return f"raised {name}" if ERROR_NAME.fullmatch(name) else "raised an error"
    if status != "ok":
        return "did not give an answer the grader could read"
    try:
        got = plain.from_plain(data)
    except plain.NotPlain:
        return "returned something that is not plain data (numbers, text, lists, dicts, arrays)"
    if exercise.judge is not None:
        from boxloc.exercises import UNCOMPARABLE
        if judged is None or judged.odd == UNCOMPARABLE:
            return "the exercise's check could not read the answer"
        return judged.text[:200]
    if exercise.kind == "choice":
        got, want = normalise_choice(got), normalise_choice(want)
    return explain.explain(got, want, exercise.tolerance, exercise.fields, reveal)


def _judge_case(exercise, result, want):
    """(None or a Mismatch, a note for the student when the case did not finish or run)."""
    from boxloc.exercises import UNCOMPARABLE, Mismatch
    if not isinstance(result, dict) or len(result) != 1:
        return Mismatch("malformed record"), ""
    (status, data), = result.items()
    if status == "timeout":
        note = f"did not finish within {data:g} s" if type(data) in (int, float) else \
            "did not finish in time"
        return Mismatch(note), note
    if status == "skipped":
        note = NOT_RUN.get(data, "was not run") if type(data) is str else "was not run"
        return Mismatch(note), note
    if status != "ok":
        return Mismatch(f"{status}: {str(data)[:200]}"), ""
    try:
        got = plain.from_plain(data)
    except plain.NotPlain as error:
        return Mismatch(f"rejected: {error}", NOT_PLAIN), ""
    if exercise.judge is None:
        return compare(exercise, got, want), ""
    try:
        problem = exercise.judge(got)
    except Exception as error:        # the hidden test's check cannot read this answer
        return Mismatch(f"the exercise's check could not read the answer "
                        f"({type(error).__name__}: {str(error)[:200]})", UNCOMPARABLE), ""
    return (Mismatch(str(problem)) if problem else None), ""


def judge_student(exercises, answers, expected, errors):
    """{grade id: verdict} of one student's answers."""
    return {e.grade_id: broken_verdict(f"hidden test broken: {errors[e.grade_id]}")
            if e.grade_id in errors else
            verdict(e, answers.get(e.grade_id), expected.get(e.grade_id))
            for e in exercises}


def main(request_path, output_path):
    request = json.loads(Path(request_path).read_text())
    exercises = spec.load(request["hidden"])
    expected, errors = expected_values(exercises, request["cases"])
    verdicts, failures = {}, {}
    for student, answers in request["answers"].items():
        try:
            verdicts[student] = judge_student(exercises, answers, expected, errors)
        except Exception as error:     # the judge's own fault on one student: named, not graded
            failures[student] = f"{type(error).__name__}: {error}"[:300]
    Path(output_path).write_text(json.dumps({"expected_errors": errors, "verdicts": verdicts,
                                             "failures": failures}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
