"""The gradebook is exported only as the grader left it.

``snapshot`` records, at release, what nbgrader stored for every assignment (notebooks, test
cells with their points, the checksums of the locked cells). ``problems`` compares, at export,
the gradebook with that snapshot and with the judge's verdicts (``reports/<a>/results.json``):
a test cell or its points changed, a score that is not the judge's, a manual score or extra
credit set outside ``instructor.py``, a graded student missing. Any of these makes ``export``
refuse with the list, so a grade that leaves the course is one the grader gave, or one a
teaching assistant recorded with ``instructor.py override`` (``overrides.py``: who, when, why).
"""

import json
from ..layout import CourseFolder
from . import overrides
from .records import expected_score


def structure(gradebook, assignment):
    """{notebook: {"tests": {cell: points}, "checksums": {cell: checksum}}} of one assignment."""
    found = {}
    for notebook in gradebook.find_assignment(assignment).notebooks:
        found[notebook.name] = {
            "tests": {c.name: c.max_score for c in notebook.grade_cells},
            "checksums": {c.name: c.checksum for c in notebook.source_cells if c.locked}}
    return found


def snapshot(course, assignments):
    """Write the release snapshot of ``assignments`` (after nbgrader generate_assignment)."""
    from nbgrader.api import Gradebook
    course = CourseFolder(course)
    with Gradebook(course.gradebook_url) as gradebook:
        data = {a: structure(gradebook, a) for a in assignments}
    course.release_snapshot.parent.mkdir(parents=True, exist_ok=True)
    course.release_snapshot.write_text(json.dumps(data, indent=1, sort_keys=True))


def problems(course, assignment, points, accept_manual=False):
    """What is wrong with the gradebook of one assignment (an empty list if nothing is).
    ``points``: {notebook: {test cell: points}} of the release."""
    from nbgrader.api import Gradebook
    course = CourseFolder(course)
    if not course.release_snapshot.exists():
        return [f"no release snapshot ({course.release_snapshot}): run the 'release' command again"]
    expected_structure = json.loads(course.release_snapshot.read_text()).get(assignment)
    results_path = course.results(assignment)
    if not results_path.exists():
        return [f"no grading results ({results_path}): run the 'grade' command first"]
    results = json.loads(results_path.read_text())["students"]
    recorded = overrides.in_force(overrides.load(course.path, assignment))
    found = []
    with Gradebook(course.gradebook_url) as gradebook:
        if structure(gradebook, assignment) != expected_structure:
            found.append("the gradebook's test cells, points or locked cells differ from the release")
        submissions = {s.student.id: s for s in gradebook.find_assignment(assignment).submissions}
        for student in sorted(set(results) - set(submissions)):
            found.append(f"{student}: graded but missing from the gradebook")
        for student, submission in sorted(submissions.items()):
            if student not in results:
                found.append(f"{student}: in the gradebook but not in the grading results")
                continue
            for notebook in submission.notebooks:
                details = results[student].get(notebook.name, {})
                verdicts = details.get("verdicts", {})
                for grade in notebook.grades:
                    override = recorded.get((student, grade.name))
                    if override is not None and grade.manual_score != float(override["points"]) \
                            and not (accept_manual and grade.manual_score is not None):
                        found.append(f"{student}/{grade.name}: override of {override['points']:g} "
                                     f"recorded ({override['at']}) but the gradebook's manual "
                                     f"score is {grade.manual_score}")
                    elif grade.manual_score is not None and override is None and not accept_manual:
                        found.append(f"{student}/{grade.name}: manual score {grade.manual_score:g} "
                                     "not recorded with 'instructor.py override' (record it there, "
                                     "or pass --accept-manual-scores if you set it in formgrader)")
                    if grade.extra_credit:
                        found.append(f"{student}/{grade.name}: extra credit {grade.extra_credit:g}")
                    wanted = expected_score(points[notebook.name][grade.name],
                                            verdicts.get(grade.name, {}), details.get("not_graded"))
                    if grade.auto_score != wanted:
                        found.append(f"{student}/{grade.name}: score {grade.auto_score} but the "
                                     f"judge gave {'no score (not graded)' if wanted is None else f'{wanted:g}'}")
    return found
