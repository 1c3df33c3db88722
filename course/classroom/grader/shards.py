"""Grading a class on many machines: each machine grades one shard, one machine merges.

    # on each of N machines (or as task K of a job array), with the course folder and the
    # collected submissions on shared storage or copied there:
    python3 course/instructor.py grade --assignment A --shard K/N
    # then once, anywhere that sees every shard file:
    python3 course/instructor.py grade --assignment A --merge

Students are dealt to shards by their position in sorted order, so every machine agrees on
the split without talking to the others. A shard writes only
``reports/<assignment>/shards/<K>-of-<N>.json`` (its students' answers, verdicts, flags and
executed notebooks); the merge checks that all N shards of one split are there and writes the
gradebook and reports exactly as a single-machine run would.
"""

import json
import re

import nbformat

from ..layout import CourseFolder
from .batch import Graded

SHARD = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text):
    """'K/N' -> (K, N) with 1 <= K <= N; a clear error otherwise."""
    match = SHARD.match(text or "")
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise SystemExit(f"--shard must be K/N with 1 <= K <= N (e.g. 3/10), got {text!r}")
    return int(match[1]), int(match[2])


def select(students, shard):
    """The students of shard (K, N): every N-th of the sorted list, starting at the K-th."""
    k, n = shard
    return [s for i, s in enumerate(sorted(students)) if i % n == k - 1]


def folder(course, assignment):
    return CourseFolder(course).shards(assignment)


def save(course, assignment, shard, graded, level):
    """Write one shard's results; returns the file."""
    path = folder(course, assignment) / f"{shard[0]}-of-{shard[1]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{**vars(g), "executed": nbformat.writes(g.executed) if g.executed is not None else None}
            for g in graded]
    path.write_text(json.dumps({"shard": list(shard), "sandbox": level, "graded": rows}))
    return path


def load(course, assignment):
    """(graded, sandbox levels) of a complete set of shard files; a clear error otherwise."""
    files = sorted(folder(course, assignment).glob("*-of-*.json"))
    if not files:
        raise SystemExit(f"no shard results in {folder(course, assignment)}: run "
                         "'grade --shard K/N' on each machine first")
    parts = [json.loads(p.read_text()) for p in files]
    sizes = {p["shard"][1] for p in parts}
    found = sorted(p["shard"][0] for p in parts)
    if len(sizes) != 1 or found != list(range(1, next(iter(sizes)) + 1)):
        raise SystemExit(f"incomplete or mixed shards in {folder(course, assignment)}: found "
                         f"{[f.name for f in files]}; delete stale ones and grade the missing ones")
    graded = []
    for part in parts:
        for row in part["graded"]:
            executed = row.pop("executed")
            g = Graded(**row)
            g.executed = nbformat.reads(executed, as_version=4) if executed else None
            graded.append(g)
    return sorted(graded, key=lambda g: (g.student, g.notebook)), sorted({p["sandbox"] for p in parts})
