"""course/instructor.ipynb, the grading notebook for Colab: it takes the private course (a clone
with a token typed at a prompt, or an uploaded zip), never the student edition, and keeps the
token out of every file. Its cells run here with Colab's upload and the prompt faked."""

import base64
import io
import subprocess
import sys
import types
import zipfile

import nbformat
import pytest

from course_helpers import COURSE

PRIVATE = ["course/instructor.py", "course/classroom/grader/__init__.py", "course/hidden/01_anchors.py",
           "lib/pyproject.toml"]
STUDENT_EDITION = ["course/release/01_anchors/anchors.ipynb", "lib/pyproject.toml", "README.md"]
TOKEN = "github_pat_never_stored_123"


def notebook_cells():
    return [c.source for c in nbformat.read(COURSE / "instructor.ipynb", as_version=4).cells
            if c.cell_type == "code"]


def fetch_cell(content):
    """The cell that gets the course, with /content (Colab's working folder) moved to ``content``."""
    cell = next(s for s in notebook_cells() if 'HOME = Path("/content/boxloc")' in s)
    return cell.replace('"/content/boxloc"', repr(str(content / "boxloc")))


def zipped(paths, top="boxloc-main/"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in paths:
            archive.writestr(top + path, "# a file of the course\n")
    return buffer.getvalue()


def run_fetch(tmp_path, monkeypatch, course="", upload=None, typed=TOKEN):
    colab = types.ModuleType("google.colab")
    colab.files = types.SimpleNamespace(upload=lambda: {"course.zip": upload})
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    import getpass
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": typed)
    namespace = {"COURSE": course}
    exec(fetch_cell(tmp_path), namespace)
    return tmp_path / "boxloc"


def test_an_uploaded_zip_of_the_private_course_is_unpacked(tmp_path, monkeypatch):
    home = run_fetch(tmp_path, monkeypatch, upload=zipped(PRIVATE))
    assert all((home / path).is_file() for path in PRIVATE)     # GitHub's top folder removed


def test_the_student_edition_is_refused_before_anything_runs(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match=r"not the private course: it has no course/instructor.py, "
                                         r"course/classroom/grader, course/hidden.*student edition"):
        run_fetch(tmp_path, monkeypatch, upload=zipped(STUDENT_EDITION))


def test_a_clone_with_a_token_leaves_the_token_nowhere(tmp_path, monkeypatch):
    repository = tmp_path / "private-course"
    for path in PRIVATE:
        (repository / path).parent.mkdir(parents=True, exist_ok=True)
        (repository / path).write_text("# a file of the course\n")
    git = ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "course"], check=True)
    home = run_fetch(tmp_path, monkeypatch, course=repository.as_uri())
    assert all((home / path).is_file() for path in PRIVATE)
    encoded = base64.b64encode(f"x-access-token:{TOKEN}".encode())
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert TOKEN.encode() not in data and encoded not in data, path


def test_a_failed_clone_says_why_without_the_token(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match=r"(?s)could not clone .*read access") as failed:
        run_fetch(tmp_path, monkeypatch, course=(tmp_path / "no-such-repository").as_uri())
    assert TOKEN not in str(failed.value)


def test_the_notebook_checks_the_sandbox_before_the_first_submission():
    cells = notebook_cells()
    check = next(i for i, s in enumerate(cells) if "grading.sandbox_level(" in s)
    upload = next(i for i, s in enumerate(cells) if "SUBMISSIONS = " in s)
    grade = next(i for i, s in enumerate(cells) if '"grade"' in s)
    assert check < upload < grade
    text = "\n".join(cells)
    assert "boxloc-course/boxloc" not in text and "REPOSITORY" not in text
