"""A class at once: the same grades with 1 or 2 workers and when the class is split into
shards graded separately (a job array) and merged. Mechanics only: on the toy assignment
(course_helpers.make_toy_course), whose notebook runs in a second; the real notebooks are graded
in test_assignments.py."""

import json
import shutil

import pytest

from classroom import commands
from course_helpers import TOY, fast_environment, fill, make_toy_course, scores, solution_cells, submit

ASSIGNMENT = TOY
STUDENTS = {"ann": {}, "ben": {"letter": 'letter = "c"'},
            "cat": {"double": "def double(x):\n    return x + 2"}, "dan": None}


def run(course, *options):
    with fast_environment(course):
        return commands.instructor(["grade", "--assignment", ASSIGNMENT, "--course", str(course), *options])


def outcome(course):
    results = json.loads((course / "reports" / ASSIGNMENT / "results.json").read_text())["students"]
    return ({s: scores(course, ASSIGNMENT, s) for s in STUDENTS},
            {s: results[s]["toy"]["verdicts"] for s in STUDENTS})


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    base = make_toy_course(tmp_path_factory.mktemp("scale"))
    release = base / "release" / ASSIGNMENT / "toy.ipynb"
    solutions = solution_cells(base / "source" / ASSIGNMENT / "toy.ipynb")
    for student, answers in STUDENTS.items():
        submit(base, student, ASSIGNMENT, release if answers is None else fill(release, {**solutions, **answers}))
    copies = {}
    for name in ("one_worker", "two_workers", "sharded"):
        copies[name] = base.parent / name / "course"
        shutil.copytree(base, copies[name])
    assert run(copies["one_worker"], "--workers", "1") == 0
    assert run(copies["two_workers"], "--workers", "2") == 0
    assert run(copies["sharded"], "--shard", "2/2", "--workers", "1") == 0
    with pytest.raises(SystemExit, match="incomplete"):
        run(copies["sharded"], "--merge")
    assert run(copies["sharded"], "--shard", "1/2", "--workers", "1") == 0
    assert not (copies["sharded"] / "autograded").exists()          # shards write no grades
    assert run(copies["sharded"], "--merge") == 0
    return copies


def test_grades_do_not_depend_on_workers_or_shards(courses):
    reference = outcome(courses["one_worker"])
    assert reference[0]["ann"] == {"test_double": 2, "test_letter": 1}
    assert reference[0]["ben"] == {"test_double": 2, "test_letter": 0}
    assert reference[0]["cat"] == {"test_double": 0, "test_letter": 1}
    assert set(reference[0]["dan"].values()) == {0}
    assert outcome(courses["two_workers"]) == reference
    assert outcome(courses["sharded"]) == reference


def test_shards_split_the_class_without_overlap():
    from classroom.grader.shards import select
    students = [f"s{i:03d}" for i in range(301)]
    parts = [select(students, (k, 7)) for k in range(1, 8)]
    assert sorted(sum(parts, [])) == students and max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", ""])
def test_bad_shard_is_refused(text):
    from classroom.grader.shards import parse_shard
    with pytest.raises(SystemExit, match="K/N"):
        parse_shard(text)
