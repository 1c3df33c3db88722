"""The course end to end in a scratch folder (the main job of ``run.py demo``).

The committed tree is not touched: the release is regenerated, the solutions executed in the
fast configuration, submitted as the student ``reference``, graded through the same steps an
instructor runs, and the grade table printed with the executed notebooks' detection summary.
"""

import shutil
from pathlib import Path

import nbformat

from . import building, exporting, grading
from .grader.records import points_of
from .grader.safe_text import shown
from .layout import COURSE, CourseFolder


def demo(out):
    """Run the course end to end in ``out``; returns 0."""
    out = Path(out).resolve()
    course = CourseFolder(out / "course")
    if course.path.exists():
        shutil.rmtree(course.path)
    shutil.copytree(CourseFolder(COURSE).source, course.source)
    shutil.copytree(CourseFolder(COURSE).hidden, course.hidden,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CourseFolder(COURSE).nbgrader_config, course.path)
    building.release(course.path)
    print(f"release: {course.release}")
    building.generate_solutions(course.path, out / "solutions", logs=out / "kernel-logs")
    print(f"executed solutions (figures inside): {out / 'solutions'} "
          f"(kernel logs: {out / 'kernel-logs'})")
    lines = []
    for name in course.assignments():
        for notebook in sorted((out / "solutions" / name).glob("*.ipynb")):
            target = course.submitted("reference", name) / notebook.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(notebook, target)
        grading.grade(course.path, name)
        exercises, rows = exporting.grade_rows(course.path, name)
        exporting.export(course.path, name, out / f"grades-{name}.csv")
        possible = {gid: points for nb in course.release_notebooks(name).values()
                    for gid, points in points_of(nb).items()}
        for student, *points, total, flags in rows:
            lines.append(f"{name:12s} {shown(student):10s} " + "  ".join(
                f"{e.removeprefix('test_')} {p:g}/{possible[e]:g}" for e, p in zip(exercises, points))
                + f"  total {total:g}/{sum(possible.values()):g}" + (f"  [{flags}]" if flags else ""))
    print("\ngrades (each submission run in a sandbox, judged by course/classroom/grader, "
          "nbgrader gradebook):")
    print("\n".join(lines))
    print("\ndetection summary of the executed solutions (notebook 4: the shipped reference "
          "detector on held-out phantom subjects):")
    print(cell_text(out / "solutions", "evaluation") or "  (no evaluation cell found)")
    return 0


def cell_text(folder, grade_id):
    """The printed output of the cell ``grade_id`` in the executed notebooks of ``folder``."""
    texts = []
    for path in sorted(Path(folder).rglob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                texts += [o.text for o in cell.get("outputs", []) if o.get("name") == "stdout"]
    return "".join(texts).rstrip()
