"""Grade a batch of submissions: sandboxes in parallel, then one trusted judge (trusted side).

``grade_batch`` runs every (student, notebook) in its own sandbox, ``workers`` at a time, and
returns per student the recorded answers, the runtime and static flags, the executed notebook
and, after the judge, the points per exercise. Results depend only on each submission: the
order of completion and the number of workers change nothing (the caller writes the gradebook
afterwards, in student order).

The batch always completes: a submission whose sandbox report is malformed, or that the judge
failed on, is "not graded" (``Graded.not_graded`` says why, a flag names the reason) and left
to a teaching assistant; every other submission is graded as usual.
"""

import json
import os
import queue
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..layout import PACKAGE, CourseFolder
from . import plain, sandbox, spec, tamper
from .records import points_of
from .safe_text import shown

SANDBOX_FAILURES_IN_A_ROW = 3     # then the machine, not a submission, is at fault: stop


@dataclass
class Submission:
    student: str
    notebook: str                       # release notebook name
    path: Path                          # the repaired notebook to execute


@dataclass
class Graded:
    student: str
    notebook: str
    answers: dict = field(default_factory=dict)       # grade id -> recorded results
    texts: dict = field(default_factory=dict)         # test cell grade id -> visible output
    flags: list = field(default_factory=list)
    executed: object = None                           # the executed notebook (outputs capped)
    seconds: float = 0.0
    verdicts: dict = field(default_factory=dict)      # grade id -> verdict of the judge
    not_graded: str = ""                              # why no grade was given ("" if graded)
    memory_cap: str = ""                              # "control group" or "per process"

    def leave_ungraded(self, flag_name, reason):
        """No automatic grade: a teaching assistant grades this one (the flag says why)."""
        self.not_graded, self.verdicts = reason, {}
        self.flags.append(dict(tamper.flag(flag_name, None, reason), notebook=self.notebook))


def test_cells(release_nb):
    """Grade ids of the test cells of a release notebook."""
    return set(points_of(release_nb))


def check_exercises(exercises, releases, assignment):
    """Every test cell of the release has its hidden side, and nothing else is declared; an
    exercise's parts add up to its test cell's points."""
    graded = set().union(*(test_cells(nb) for nb in releases.values()))
    declared = {e.grade_id for e in exercises}
    if graded != declared:
        raise SystemExit(f"{assignment}: test cells {sorted(graded - declared)} have no hidden "
                         f"side and {sorted(declared - graded)} are not test cells of the release "
                         "(course/hidden must match the source notebooks)")
    points = {gid: p for nb in releases.values() for gid, p in points_of(nb).items()}
    for exercise in exercises:
        if exercise.parts and abs(sum(p.points for p in exercise.parts) - points[exercise.grade_id]) > 1e-9:
            raise SystemExit(f"{assignment}: the parts of {exercise.grade_id} add up to "
                             f"{sum(p.points for p in exercise.parts):g} points, its test cell has "
                             f"{points[exercise.grade_id]:g}")


def plan_for(course, assignment, releases, secret):
    """(exercises, cases, recording plan) of an assignment under the grading secret."""
    exercises = spec.load(CourseFolder(course).hidden_file(assignment))
    check_exercises(exercises, releases, assignment)
    cases = {gid: [plain.to_plain(c) for c in drawn]
             for gid, drawn in spec.draw_cases(exercises, secret).items()}
    for exercise in exercises:
        problem = exercise.parts_problem(len(cases.get(exercise.grade_id, [])))
        if problem:
            raise SystemExit(f"{assignment}: {problem}")
    return exercises, cases, spec.recording_plan(exercises, cases)


def run_one(submission, plan, level, limits, slot, course, release_nb, data_dir):
    graded = Graded(submission.student, submission.notebook)
    nb_bytes = submission.path.read_bytes()
    graded.flags += [dict(f, notebook=submission.notebook) for f in
                     tamper.scan_notebook(nbformat.reads(nb_bytes.decode(), as_version=4), release_nb)]
    result = sandbox.run({"plan": plan}, nb_bytes, level, limits, slot=slot, protected=[course],
                         data_dir=data_dir)
    graded.seconds, graded.memory_cap = result.seconds, result.capped
    graded.flags += [dict(f, notebook=submission.notebook) for f in tamper.runtime_flags(result)]
    if not result.killed and not any(e["event"] == "started" for e in result.events):
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        graded.leave_ungraded("sandbox_failed", "the sandbox did not start: " + (
            " / ".join(lines[-2:])[:300] or f"exit status {result.returncode}"))
        return graded
    read_report(graded, result, plan)
    return graded


def read_report(graded, result, plan):
    """The answers, test cell outputs and executed notebook of a sandbox's report into
    ``graded``; a report with a malformed line leaves the submission not graded."""
    malformed = list(result.malformed)
    for event in result.events:                   # each one checked by events.parse
        kind = event["event"]
        if kind == "answer" and event["grade_id"] not in plan:
            malformed.append("an answer for an exercise that was not asked for")
        elif kind == "answer":
            graded.answers[event["grade_id"]] = event["results"]
        elif kind == "cell" and event["grade_id"] in plan:
            graded.texts[event["grade_id"]] = event.get("text", "")[:4000]
        elif kind == "notebook":
            try:
                graded.executed = nbformat.from_dict(event["notebook"])
                nbformat.validate(graded.executed)
            except Exception:
                graded.executed = None
    if malformed:
        graded.leave_ungraded("malformed_report", f"the sandbox's report is malformed: {malformed[0]}")


def grade_batch(course, assignment, submissions, releases, workers, limits, level, secret,
                progress=lambda done, total, line: print(line)):
    """Sandbox every submission, then judge them all; returns [Graded] in submission order."""
    exercises, cases, plan = plan_for(course, assignment, releases, secret)
    data_dir = None
    if spec.prepare_data(CourseFolder(course).hidden_file(assignment)):
        from boxloc.datasets.store import cache_root
        data_dir = cache_root()
    slots = queue.Queue()
    for slot in range(workers):
        slots.put(slot)

    def task(submission):
        slot = slots.get()
        try:
            return run_one(submission, plan, level, limits, slot, course,
                           releases[submission.notebook], data_dir)
        finally:
            slots.put(slot)

    results, start, failed_in_a_row = {}, time.monotonic(), 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(task, s): i for i, s in enumerate(submissions)}
        for done, future in enumerate(as_completed(futures), 1):
            g = results[futures[future]] = future.result()
            progress(done, len(submissions), progress_line(done, len(submissions),
                                                           time.monotonic() - start))
            failed = any(f["flag"] == "sandbox_failed" for f in g.flags)
            failed_in_a_row = failed_in_a_row + 1 if failed else 0
            if failed_in_a_row >= SANDBOX_FAILURES_IN_A_ROW:
                pool.shutdown(wait=True, cancel_futures=True)
                raise SystemExit(f"grading stopped: {failed_in_a_row} sandboxes in a row did not "
                                 f"start ({g.not_graded}); no grade was written. This machine "
                                 "cannot isolate submissions now: see README, 'Grading'.")
    graded = [results[i] for i in range(len(submissions))]
    judge(course, assignment, exercises, cases, graded, releases)
    return graded


def progress_line(done, total, elapsed):
    width = 30
    filled = round(width * done / total)
    eta = elapsed / done * (total - done)
    return (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} submissions, "
            f"{elapsed:.0f} s, about {eta:.0f} s left")


def judge(course, assignment, exercises, cases, graded, releases):
    """Run the judge in a clean interpreter and attach its verdicts to ``graded``."""
    answers = {}
    for g in graded:
        if not g.not_graded:
            answers.setdefault(g.student, {}).update(g.answers)
    with tempfile.TemporaryDirectory(prefix="boxloc-judge-") as scratch:
        request, output = Path(scratch) / "request.json", Path(scratch) / "verdicts.json"
        request.write_text(json.dumps({"hidden": str(CourseFolder(course).hidden_file(assignment)),
                                       "cases": cases, "answers": answers}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        done = subprocess.run([sys.executable, "-E", "-s", "-m", f"{__package__}.judge",
                               str(request), str(output)],
                              capture_output=True, text=True, env={**env, "MPLBACKEND": "Agg"},
                              cwd=PACKAGE.parent)     # -m puts the folder of classroom/ on the path
        if done.returncode:
            raise SystemExit(f"the judge failed (no grade was written):\n{done.stderr[-3000:]}")
        result = json.loads(output.read_text())
    if result["expected_errors"]:
        print(f"warning: hidden tests that could not compute their expected values: "
              f"{result['expected_errors']}", file=sys.stderr)
    attach_verdicts(result, graded, releases)


def attach_verdicts(result, graded, releases):
    """The judge's verdicts onto each graded submission, with a flag per odd answer; a student
    the judge failed on is named on the terminal and left ungraded (``judge_failed``)."""
    for student, reason in sorted(result["failures"].items()):
        print(f"the judge failed on {shown(student)} ({shown(reason)}): not graded, the rest of "
              "the class is graded", file=sys.stderr)
    for g in graded:
        if g.not_graded:
            continue
        if g.student in result["failures"]:
            g.leave_ungraded("judge_failed", f"the judge failed: {result['failures'][g.student]}")
            continue
        mine = test_cells(releases[g.notebook])
        g.verdicts = {gid: v for gid, v in result["verdicts"][g.student].items() if gid in mine}
        g.flags += [dict(f, notebook=g.notebook) for f in tamper.verdict_flags(g.verdicts)]
