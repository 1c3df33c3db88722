"""The trusted judge: expected values and verdicts, in a clean interpreter.

    python -I judge.py REQUEST.json VERDICTS.json

Started by the grader once per assignment and batch (``python -I``: no PYTHONPATH, no user
site, no current folder), after every sandbox has finished. It imports the installed library
(which no sandbox can write), computes each case's expected value with the hidden tests'
``expected`` (once per case, for the whole class), and compares every student's recorded
answers, which arrive as plain data (``plain.py``), so no student object takes part.

REQUEST: {"hidden": path of course/hidden/<assignment>.py, "cases": {grade id: [plain case]},
          "answers": {student: {grade id: [result, ...]}}}
VERDICTS: {"expected_errors": {...}, "verdicts": {student: {grade id: {"passed", "cases",
           "failed", "problems"}}}}
"""

import json
import sys
from pathlib import Path

COURSE = Path(__file__).resolve().parents[1]


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
    """None if ``got`` is right for ``expected`` under the exercise's kind, else a problem."""
    from boxloc.exercises import difference
    if exercise.kind == "choice":
        got, expected = normalise_choice(got), normalise_choice(expected)
    if exercise.kind == "exact":
        return None if type(got) is type(expected) and got == expected else \
            f"expected {expected!r}, got {got!r}"
    return difference(got, expected, exercise.tolerance)


def expected_values(exercises, cases, plain):
    """{grade id: [expected per case] or the value}, computed once for the whole class."""
    table, errors = {}, {}
    for exercise in exercises:
        if exercise.judge is not None:
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


def verdict(exercise, results, expected, plain):
    """Whether every case of one exercise is right. ``problems`` (for the instructor) says why;
    ``visible`` (for the student) says which of the notebook's own cases failed and what was
    expected there, and ``hidden_failed`` only counts the others: nothing the student's code
    produced reaches the feedback (it could carry the hidden cases it was called with)."""
    results = results or [{"error": "not recorded (the test cell did not run)"}]
    wanted = expected if exercise.record.calls else [expected]
    problems, passed = [], []
    if exercise.record.calls and len(results) != len(wanted):
        problems.append(f"{len(results)} answers recorded for {len(wanted)} cases")
    for number, want in enumerate(wanted, 1):
        result = results[number - 1] if number <= len(results) else {"error": "not recorded"}
        problem = _case_problem(exercise, result, want, plain)
        passed.append(problem is None)
        if problem:
            problems.append(f"case {number}: {problem}"[:400])
    visible = [{"case": n + 1, "passed": ok, "expected": _short(wanted[n])}
               for n, ok in enumerate(passed[:exercise.visible])]
    return {"passed": not problems, "cases": len(wanted), "failed": passed.count(False),
            "hidden_failed": passed[exercise.visible:].count(False), "visible": visible,
            "problems": problems[:10]}


def _case_problem(exercise, result, want, plain):
    if not isinstance(result, dict) or len(result) != 1:
        return "malformed record"
    (status, data), = result.items()
    if status != "ok":
        return f"{status}: {str(data)[:200]}"
    try:
        got = plain.from_plain(data)
    except plain.NotPlain as error:
        return f"rejected: {error}"
    return exercise.judge(got) if exercise.judge else compare(exercise, got, want)


def _short(value, limit=200):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def main(request_path, output_path):
    sys.path.insert(0, str(COURSE))
    from grader import plain, spec
    request = json.loads(Path(request_path).read_text())
    exercises = spec.load(request["hidden"])
    expected, errors = expected_values(exercises, request["cases"], plain)
    verdicts = {}
    for student, answers in request["answers"].items():
        verdicts[student] = {}
        for exercise in exercises:
            gid = exercise.grade_id
            if gid in errors:
                verdicts[student][gid] = {"passed": False, "cases": 0, "failed": 0,
                                          "hidden_failed": 0, "visible": [],
                                          "problems": [f"hidden test broken: {errors[gid]}"]}
                continue
            verdicts[student][gid] = verdict(exercise, answers.get(gid), expected.get(gid), plain)
    Path(output_path).write_text(json.dumps({"expected_errors": errors, "verdicts": verdicts}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
