"""course/release and solutions/ must be what course/manage.py generates from course/source."""

import importlib.util

from grading import COURSE


def test_release_and_solutions_are_in_sync_with_the_sources():
    spec = importlib.util.spec_from_file_location("manage", COURSE / "manage.py")
    manage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(manage)
    assert manage.stale_files() == [], "run: python3 course/manage.py generate"
