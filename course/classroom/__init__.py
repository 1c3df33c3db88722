"""The course tools: build, publish, collect, grade and export the boxloc course.

Imports run one way, down this list (a module imports only those below it):

    venv_rerun.py   start a command, inside the project's virtualenv if this Python lacks packages
    commands.py     the two command lines (course/instructor.py and course/manage.py start them)
    demo.py         the course end to end in a scratch folder (``run.py demo``)
    building.py     release/ (nbgrader) and the executed solutions; what is stale
    grading.py      a class's submissions: repaired, sandboxed, judged, recorded
    exporting.py    grade files (one table of writers behind the integrity check), feedback
    similarity.py   similar answers per exercise (copydetect), for a person to read; never a score
    collecting.py   downloads -> submitted/<student>/<assignment>/
    lms/            Canvas, Moodle, Blackboard, Gradescope: downloads, rosters, gradebooks
    publication.py  where the course is published, and the student edition
    handin.py       the hand-in cells and the self-check's manifest in every source notebook
    repairs.py      a submission put back into the release's shape before grading
    grader/         the sandbox, the recorder inside it, the judge, the records (its own map)
    layout.py       every path of a course folder and the one reader of course.toml

Nothing here is loaded by file path; ``course/`` (the folder that holds this package) is the
import root: the entry scripts live in it, the tests put it on ``sys.path`` (pytest.ini), the
judge runs as ``python -m classroom.grader.judge`` from it.
"""
