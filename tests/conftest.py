"""The test tiers: every test gets its markers here, from where it lives and what it runs, not
by hand in each file (the markers are registered in pytest.ini; README "Tests" says how to run
each tier).

What a test covers, by folder: ``library``, ``course``, ``compat`` (tests/test_repository.py,
the repository's own files, has none of these). What it costs, by the tables below: ``keras``
(builds, trains, saves or loads Keras models), ``grading`` (grades notebooks in sandboxes),
``notebook`` (executes notebooks in a Jupyter kernel outside the grader). A name in a table is a test function or a
fixture of that file: every test that uses the fixture gets the marker. A name that is no longer
defined in its file stops the run, so a renamed test cannot fall out of its tier silently.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

AREAS = {"lib/boxloc": "library", "tests/lib": "library", "tests/test_benchmarks.py": "library",
         "tests/test_bench_training.py": "library", "tests/test_demo.py": "library",
         "tests/course": "course", "tests/compat": "compat"}

# file -> test functions or fixtures; None: the whole file
COSTS = {
    "keras": {
        "tests/lib/test_models.py": None,
        "tests/lib/test_saving.py": None,
        "tests/lib/test_training.py": None,
        "tests/lib/test_reference_detector.py": None,
        "tests/lib/test_pipeline.py": ["test_model_fit_accepts_it"],
        "tests/test_bench_training.py": ["test_quick_run_prints_the_table"],
        "tests/compat/test_backends.py": None,
        "tests/compat/test_older_keras.py": None,
    },
    "grading": {
        "tests/course/test_assignments.py": ["graded"],
        "tests/course/test_hostile.py": ["batch"],
        "tests/course/test_instructor.py": ["run"],
        "tests/course/test_scale.py": ["courses"],
        "tests/course/test_adding_an_exercise.py": [
            "test_a_right_answer_gets_its_point_and_a_wrong_one_loses_this_exercise_only"],
        "tests/course/test_grader_parts.py": [
            "test_each_isolation_level_hides_the_course_and_keeps_answers",
            "test_without_a_sandbox_the_same_driver_records_every_answer",
            "test_a_memory_hog_costs_only_its_own_sandbox"],
        "tests/course/test_lms.py": ["term"],
        "tests/course/test_overrides_and_regrades.py": ["term"],
    },
    "notebook": {
        "tests/compat/test_older_keras.py": ["test_notebook_4_runs_on_the_oldest_colab_keras"],
        "tests/lib/test_explorers_headless.py": None,
        "tests/course/test_generated_in_sync.py": ["test_kernel_output_goes_to_the_log_not_the_terminal"],
        "tests/course/test_nbgrader_autograde.py": None,
    },
}


def _under(path, prefix):
    return path == prefix or path.startswith(prefix + "/")


def _check_names():
    """Every name in COSTS is defined in its file (a test function or a fixture)."""
    for marker, files in COSTS.items():
        for file, names in files.items():
            text = (ROOT / file).read_text()
            missing = [n for n in names or () if not re.search(rf"^def {n}\(", text, re.M)]
            if missing:
                raise pytest.UsageError(f"tests/conftest.py: COSTS[{marker!r}] names {missing}, "
                                        f"which {file} no longer defines")


def pytest_collection_modifyitems(config, items):
    _check_names()
    for item in items:
        path = Path(item.path).resolve()
        if not path.is_relative_to(ROOT):
            continue
        path = path.relative_to(ROOT).as_posix()
        for prefix, area in AREAS.items():
            if _under(path, prefix):
                item.add_marker(area)
        function = getattr(item, "originalname", None) or item.name
        uses = set(getattr(item, "fixturenames", ())) | {function}
        for marker, files in COSTS.items():
            names = files.get(path, ())
            if names is None or uses & set(names):
                item.add_marker(marker)
