"""The two command lines of the course: ``instructor`` (a term) and ``manage`` (the repository).

    python3 course/instructor.py release
    python3 course/instructor.py collect ~/Downloads/submissions.zip --assignment 01_anchors
    python3 course/instructor.py grade --assignment 01_anchors --timeout 120
    python3 course/instructor.py export --assignment 01_anchors --csv grades.csv
    python3 course/instructor.py feedback --assignment 01_anchors
    python3 course/instructor.py similarity --assignment 01_anchors
    python3 course/instructor.py override --assignment 01_anchors --student amy --exercise test_box_iou --points 3 --reason "..."
    python3 course/instructor.py collect DOWNLOAD --assignment 01_anchors --lms auto --roster FILE
    python3 course/instructor.py export --assignment 01_anchors --lms auto --gradebook FILE --out F

    python3 course/manage.py generate        # course.toml into the notebooks and README, then
                                             # release/ (nbgrader) + solutions/ (executed)
    python3 course/manage.py check           # exit 1 if any of them is stale
    python3 course/manage.py demo --out DIR  # the course end to end in DIR (the main job)
    python3 course/manage.py publish --out DIR   # the student edition (no answer key) in DIR

Every instructor command takes ``--course DIR`` (default: the repository's course folder);
``instructor.ipynb`` runs the same steps on Colab through ``instructor([...])``. This module only
parses and dispatches: collect is ``collecting.py``, grade ``grading.py``, export and feedback
``exporting.py``, similarity ``similarity.py``, override ``grading.py`` (its log
``grader/overrides.py``), release and generate ``building.py``, publish ``publication.py``.
"""

import argparse
from pathlib import Path

from . import building, collecting, exporting, grading, handin, lms, publication, similarity
from .demo import demo
from .grader.shards import parse_shard
from .layout import COURSE, ROOT, SETTINGS_FILE, SOLUTIONS, CourseFolder

INSTRUCTOR_USAGE = "\n".join(__doc__.splitlines()[2:11])
MANAGE_USAGE = "\n".join(__doc__.splitlines()[12:18])


def instructor_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", type=Path, default=COURSE,
                        help="course folder (default: %(default)s)")
    parser = argparse.ArgumentParser(
        prog="instructor.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Instructor workflow without JupyterHub: release, collect, grade, export, "
                    "feedback.", epilog=INSTRUCTOR_USAGE)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("release", parents=[common], help="generate release/ and the gradebook")
    for name, text in (("collect", "submissions (folder or .zip) -> submitted/"),
                       ("grade", "autograde every submission"),
                       ("export", "grades as CSV, or into an LMS's gradebook"), ("feedback", "HTML feedback per student"),
                       ("similarity", "similar answers per exercise (a report; no score changes)"),
                       ("override", "set one exercise's score by hand, with who, when and why")):
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.add_argument("--assignment", required=True)
    collect = commands.choices["collect"]
    collect.add_argument("source", type=Path)
    collect.add_argument("--force", action="store_true",
                         help="replace existing different submissions")
    collect.add_argument("--map", type=Path, metavar="CSV",
                         help="file,student rows that name a file's student")
    collect.add_argument("--lms", choices=lms.CHOICES,
                         help="the download is this LMS's 'download all submissions' (auto: "
                              "recognise it)")
    collect.add_argument("--roster", type=Path, metavar="FILE",
                         help="the LMS's gradebook export or grading worksheet: students get "
                              "their institution login as id, and their names")
    collect.add_argument("--due", metavar="TIME",
                         help="due time (2026-11-30T17:00[+01:00]): later attempts are flagged "
                              f"late (default: [due] in {SETTINGS_FILE})")
    grade = commands.choices["grade"]
    grade.add_argument("--timeout", type=int,
                       help="seconds per cell and per recorded case (default 300)")
    grade.add_argument("--notebook-timeout", type=int, help="seconds per notebook (default 1200)")
    grade.add_argument("--workers", type=int,
                       help="submissions graded at once (default: the number of cores)")
    grade.add_argument("--secret", help="the grading secret the hidden cases are drawn from "
                       "(default: $BOXLOC_GRADING_SECRET, else the published cases)")
    grade.add_argument("--allow-unsandboxed", action="store_true",
                       help="grade even where no sandbox is available (unsafe)")
    grade.add_argument("--shard", metavar="K/N",
                       help="grade only the K-th of N slices of the class (a job array)")
    grade.add_argument("--merge", action="store_true",
                       help="write the gradebook from the saved shard results")
    grade.add_argument("--student", action="append", metavar="ID",
                       help="regrade only this student (repeatable); everyone else's grades, "
                            "reports and feedback stay as they are")
    override = commands.choices["override"]
    override.add_argument("--student", required=True)
    override.add_argument("--exercise", required=True, help="the test cell's grade id")
    points = override.add_mutually_exclusive_group(required=True)
    points.add_argument("--points", type=float, help="the exercise's score (0 to its points)")
    points.add_argument("--remove", action="store_true",
                        help="end the override: the grader's score holds again")
    override.add_argument("--reason", required=True, help="why (the student reads it)")
    override.add_argument("--by", help="who sets it (default: the OS user)")
    similar = commands.choices["similarity"]
    similar.add_argument("--top", type=int, default=10,
                         help="pairs listed per answer cell (default %(default)s)")
    similar.add_argument("--threshold", type=float, default=0.5,
                         help="least similarity listed, 0 to 1 (default %(default)s)")
    export = commands.choices["export"]
    export.add_argument("--csv", type=Path, help="the generic grade file to write")
    export.add_argument("--lms", choices=lms.CHOICES,
                        help="fill this LMS's downloaded gradebook (auto: recognise it)")
    export.add_argument("--gradebook", type=Path, metavar="FILE",
                        help="the gradebook or worksheet as downloaded from the LMS")
    export.add_argument("--out", type=Path, metavar="FILE", help="the upload file to write")
    export.add_argument("--column", help="the gradebook column to fill (default: the one "
                                         "named like the assignment; Moodle: Grade)")
    export.add_argument("--scale", action="store_true",
                        help="scale totals to the LMS column's points when they differ")
    export.add_argument("--leave-out-unlisted", action="store_true",
                        help="write the upload file even if graded students are not in the "
                             "gradebook (they are listed)")
    export.add_argument("--accept-manual-scores", action="store_true",
                        help="export manual scores set in formgrader")
    feedback = commands.choices["feedback"]
    feedback.add_argument("--lms", choices=list(lms.SYSTEMS),
                          help="also zip the pages as this LMS takes them back (--out)")
    feedback.add_argument("--out", type=Path, metavar="ZIP", help="the feedback zip to write")
    return parser


def instructor(argv=None):
    """Run one instructor command (argv as on the command line); returns the exit status."""
    args = instructor_parser().parse_args(argv)
    course = args.course.resolve()
    if args.command == "release":
        return building.release(course)
    if args.command == "collect":
        if (args.roster or args.due) and not args.lms:
            raise SystemExit("--roster and --due go with --lms (an LMS's download)")
        mapping = collecting.read_map(args.map) if args.map else None
        report = collecting.collect(args.source, args.assignment, course, args.force, mapping,
                                    args.lms, args.roster, args.due)
        return 1 if any(report[k] for k in collecting.PROBLEMS) else 0
    if args.command == "grade":
        if args.shard and args.merge:
            raise SystemExit("--shard and --merge are two steps: run them separately")
        return grading.grade(course, args.assignment, args.timeout, args.workers,
                             args.notebook_timeout, args.allow_unsandboxed, args.secret,
                             parse_shard(args.shard) if args.shard else None, args.merge,
                             args.student)
    if args.command == "override":
        return grading.override(course, args.assignment, args.student, args.exercise,
                                None if args.remove else args.points, args.reason, args.by)
    if args.command == "export":
        if bool(args.csv) == bool(args.lms):
            raise SystemExit("export: give --csv FILE, or --lms LMS --gradebook FILE --out FILE")
        if args.csv:
            return exporting.export(course, args.assignment, args.csv, args.accept_manual_scores)
        if args.lms in lms.EXPORTS + [lms.AUTO] and not (args.gradebook and args.out):
            raise SystemExit(f"export --lms {args.lms}: give --gradebook (the file downloaded "
                             "from the LMS) and --out (the file to upload)")
        options = {} if args.lms not in lms.EXPORTS + [lms.AUTO] else dict(
            gradebook=args.gradebook, column=args.column, scale=args.scale,
            leave_out_unlisted=args.leave_out_unlisted)
        return exporting.export(course, args.assignment, args.out, args.accept_manual_scores,
                                args.lms, **options)
    if args.command == "similarity":
        return similarity.similarity(course, args.assignment, args.top, args.threshold)
    if args.lms and not args.out:
        raise SystemExit("feedback --lms: give --out, the zip to write")
    return exporting.feedback(course, args.assignment, args.lms, args.out)


def manage(argv=None):
    """Run one maintenance command on the repository; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="manage.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Course maintenance: regenerate what is built from course/source.",
        epilog=MANAGE_USAGE)
    parser.add_argument("command", choices=["generate", "check", "demo", "publish"])
    parser.add_argument("--out", default="outputs",
                        help="folder of the demo's results, or of the student edition")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.out)
    if args.command == "publish":
        return publication.publish(args.out)
    if args.command == "generate":
        for path in publication.apply(ROOT):
            print(f"publication setting written into {path.relative_to(ROOT)}")
        for path in handin.apply(ROOT):
            print(f"hand-in cells and manifest written into {path.relative_to(ROOT)}")
        building.generate_release()
        building.generate_solutions()
        print(f"regenerated {CourseFolder(COURSE).release} and {SOLUTIONS}")
        return 0
    stale = publication.mismatches(ROOT) + handin.mismatches(ROOT) + building.stale_files()
    misplaced = building.misplaced_hidden_tests()
    for path in stale:
        print(f"stale: {path} (run: python3 course/manage.py generate)")
    for path in misplaced:
        print(f"{path}: hidden tests go in course/hidden/<assignment>.py "
              "(see course/classroom/grader/spec.py)")
    return 1 if stale or misplaced else 0

