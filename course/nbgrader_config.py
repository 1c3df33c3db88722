"""nbgrader configuration of the boxloc course (run nbgrader from this folder, or use
``python3 course/manage.py ...`` from anywhere)."""

import os

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "boxloc"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Grading: a per-cell time limit; a cell that runs too long is interrupted and scores 0.
c.Execute.timeout = int(os.environ.get("BOXLOC_CELL_TIMEOUT", "300"))
c.Execute.interrupt_on_timeout = True

# Feedback shows each student their graded notebook, but not the hidden tests (they stay
# reusable from one term to the next).
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTests]

# Autograding is the course's own: `python3 course/instructor.py grade` runs each submission in a
# sandbox, records its answers on the hidden cases and has a judge outside it decide the points.
# nbgrader's autograde (`nbgrader autograde`, formgrader's "Autograde" button) would run only the
# notebook's visible checks, in the student's own kernel: no hidden case, and a grade the notebook
# can forge. So it refuses before it runs anything, with the command to use; the gradebook gets
# no score from it (instructor.py grade writes the scores, and export checks them).
AUTOGRADE_REFUSED = (
    "nbgrader autograde is switched off in this course: it would grade the notebook's visible "
    "checks alone, in the student's own kernel (no hidden case; a grade the notebook can forge). "
    "Grade with: python3 course/instructor.py grade --assignment ASSIGNMENT (after `nbgrader "
    "collect` if students submit through nbgrader's exchange); see the README, 'Grading'.")


def refuse_autograde(nb, resources):
    raise RuntimeError(AUTOGRADE_REFUSED)


c.Autograde.sanitize_preprocessors = [refuse_autograde]
c.Autograde.autograde_preprocessors = [refuse_autograde]
