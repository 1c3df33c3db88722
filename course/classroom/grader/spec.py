"""How an assignment's graded exercises are recorded and judged (the hidden side of a test cell).

A test cell of a notebook keeps its *visible* checks, which the student runs for immediate
feedback. What decides the points is declared in ``course/hidden/<assignment>.py`` (never
released) as a list of ``Exercise``:

* ``record``: what the sandboxed kernel records after the test cell ran, as plain data:
  ``value("name")`` the value of a global, or ``call("name", ...)`` the function applied to each
  case. ``helper`` (optional) is trusted source text defining ``record_case(answer, *case)``
  in the kernel, for answers that must be exercised (a Keras builder: build, count, shape).
* ``cases(rng)``: the inputs (plain data), drawn from the grading secret's generator; the visible
  cases are included, so a student cannot pass by editing or skipping the visible checks.
* ``expected(*case)``: the right answer for one case, computed in the trusted judge (a clean
  interpreter with the installed library). Or ``judge(answer)`` for answers that are checked by
  a property rather than compared (a configuration that must cover small lesions): it returns a
  problem text, or None.
* ``prepare_data()`` (module level, optional): builds the dataset the notebook loads in the
  grading mode (``boxloc.configs.notebook_data('grading')``).
* ``visible``: how many leading cases the notebook's visible checks show (feedback may name
  those, with their expected values; of the others it only says how many failed).
* ``kind``: how a teaching assistant compares (``"number"``: tolerance, ints and integral floats
  alike, tuples and lists alike; ``"choice"``: one letter, any case, surrounding spaces).
* ``parts`` (optional): the exercise's cases in groups a rubric marks separately, each a
  ``Part(title, points, cases)`` with the numbers of its cases (1 = the first visible case);
  the parts cover every case once and their points add up to the test cell's points (checked
  before any sandbox runs). Without parts, every case must pass for the points (nbgrader's
  all-or-nothing test cells); with parts, each part whose cases all pass earns its points.
* ``fields`` (optional): what each value of a tuple answer is, in the exercise's own words
  (``("TP", "FP", "FN")``): feedback then says "FP: expected 2, got 1".
* ``others`` (optional, value() exercises judged by a property): what else the grader tries,
  in the student's words ("other masks"): feedback says they were tried too. A ``judge``'s
  text is shown to the student: it says what is wrong without any hidden input.
* ``solved_by``: the library functions that answer a write-it-yourself exercise, as dotted
  names, with every alias under which the library exposes them (``boxloc.iou_matrix`` and
  ``boxloc.boxes.iou_matrix``). Declared only, for now: blocking them while the exercise is
  recorded and flagging them in the static scan is issue 22 item 1 (the in-sandbox recorder).
"""

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

KINDS = ("number", "choice", "exact")


@dataclass(frozen=True)
class Record:
    """What the kernel records for an exercise: a global's value or calls of a function."""
    name: str
    calls: bool
    helper: str = ""


def value(name):
    """Record the value of the global ``name`` once."""
    return Record(name, calls=False)


def call(name, helper=""):
    """Record ``name(*case)`` for every case, or ``record_case(name, *case)`` when ``helper``
    (source text defining ``record_case``) is given."""
    return Record(name, calls=True, helper=helper)


@dataclass(frozen=True)
class Part:
    """A group of an exercise's cases that a rubric marks on its own."""
    title: str                                      # what the part checks, for the student
    points: float
    cases: tuple                                    # case numbers, 1 = the first case

    def __post_init__(self):
        object.__setattr__(self, "cases", tuple(int(n) for n in self.cases))   # a range too


@dataclass(frozen=True)
class Exercise:
    grade_id: str                                   # the test cell's nbgrader grade id
    record: Record
    cases: Optional[Callable] = None                # rng -> list of argument lists
    expected: Optional[Callable] = None             # (*case) -> value; or the value for value()
    judge: Optional[Callable] = None                # answer -> None or a problem text
    kind: str = "number"
    tolerance: float = 1e-6
    visible: int = 0                                # leading cases the notebook shows too
    parts: tuple = ()                               # Part, ... (partial credit)
    fields: tuple = ()                              # names of a tuple answer's values
    others: str = ""                                # value(): what else a judge= tries
    solved_by: tuple = ()                           # library functions that answer it

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.record.calls and self.cases is None:
            raise ValueError(f"{self.grade_id}: call() needs cases")
        if (self.expected is None) == (self.judge is None):
            raise ValueError(f"{self.grade_id}: give exactly one of expected= and judge=")
        if self.parts and not self.record.calls:
            raise ValueError(f"{self.grade_id}: parts group the cases of a call() exercise")
        if any(not isinstance(p, Part) or p.points <= 0 or not p.cases for p in self.parts):
            raise ValueError(f"{self.grade_id}: parts are Part(title, points > 0, cases)")
        if len({p.title for p in self.parts}) != len(self.parts):
            raise ValueError(f"{self.grade_id}: two parts have the same title")
        if self.others and self.record.calls:
            raise ValueError(f"{self.grade_id}: others= is for value() exercises (a call() "
                             "exercise's hidden cases are its cases after the visible ones)")

    def parts_problem(self, cases):
        """Why the parts do not fit ``cases`` cases (None when they cover each case once)."""
        if not self.parts:
            return None
        numbers = sorted(n for p in self.parts for n in p.cases)
        if numbers != list(range(1, cases + 1)):
            return (f"{self.grade_id}: the parts must cover the cases 1 to {cases} once each, "
                    f"they cover {numbers}")
        return None

    def hidden_cases(self, cases):
        """How many of ``cases`` the notebook does not show (feedback says they were tried)."""
        if self.record.calls:
            return max(cases - self.visible, 0)
        return 1 if self.others else 0


def load_module(path):
    path = Path(path)
    module_spec = importlib.util.spec_from_file_location(f"hidden_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def load(path):
    """The list of Exercise of one hidden-tests file."""
    exercises = list(load_module(path).EXERCISES)
    ids = [e.grade_id for e in exercises]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: an exercise is declared twice")
    return exercises


def prepare_data(hidden_path):
    """Run the hidden file's ``prepare_data()`` if it has one (in the trusted grader, before
    any sandbox: sandboxes read the dataset cache but cannot write it; the notebooks run in the
    grading mode, ``boxloc.configs.run_mode``). Returns whether the assignment uses data."""
    module = load_module(hidden_path)
    if hasattr(module, "prepare_data"):
        module.prepare_data()
        return True
    return False


def draw_cases(exercises, secret):
    """{grade id: [case, ...]} for every exercise that calls a function. The generator is
    seeded by the grading secret and the exercise, so each exercise's cases do not depend on
    the others' (adding an exercise leaves the rest unchanged)."""
    cases = {}
    for exercise in exercises:
        if exercise.record.calls:
            rng = case_generator(secret, exercise.grade_id)
            cases[exercise.grade_id] = [list(case) for case in exercise.cases(rng)]
    return cases


def case_generator(secret, grade_id):
    """NumPy generator of one exercise's cases under the grading secret."""
    import numpy as np
    digest = hashlib.sha256(f"{secret}/{grade_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def recording_plan(exercises, cases):
    """What the sandbox needs to record answers (no expected values, no judges)."""
    return {e.grade_id: {"name": e.record.name, "calls": e.record.calls,
                         "helper": e.record.helper, "cases": cases.get(e.grade_id)}
            for e in exercises}
