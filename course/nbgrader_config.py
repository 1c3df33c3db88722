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
