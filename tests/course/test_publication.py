"""One setting says where the course is published (course/course.toml); generate writes it into
the notebooks' install cells, the README's Colab links and instructor.ipynb, and check fails
while any of them disagrees."""

import shutil

import nbformat
import pytest

from classroom import publication
from course_helpers import COURSE, ROOT



def copy_of_the_repository(folder):
    root = folder / "repo"
    shutil.copytree(COURSE / "source", root / "course" / "source")
    for name in ("course.toml", "instructor.ipynb"):
        shutil.copy(COURSE / name, root / "course" / name)
    shutil.copy(ROOT / "README.md", root / "README.md")
    return root


def set_publication(root, repository, branch):
    toml = root / "course" / "course.toml"
    text = toml.read_text().replace('"boxloc-course/boxloc"', f'"{repository}"')
    toml.write_text(text.replace('branch = "main"', f'branch = "{branch}"'))


def test_this_repository_agrees_with_its_setting():
    assert publication.mismatches(ROOT) == []


def test_changing_the_setting_is_caught_and_generate_writes_it_everywhere(tmp_path):
    root = copy_of_the_repository(tmp_path)
    set_publication(root, "my-uni/boxloc-students", "fall-2027")
    stale = publication.mismatches(root)
    assert sorted(stale) == sorted([*(str(p.relative_to(root)) for p in (root / "course" / "source").rglob("*.ipynb")),
                                    "README.md"])
    publication.apply(root)
    assert publication.mismatches(root) == []
    setup = next(c.source for c in nbformat.read(root / "course/source/01_anchors/anchors.ipynb", 4).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert '"git+https://github.com/my-uni/boxloc-students@fall-2027#subdirectory=lib"' in setup
    readme = (root / "README.md").read_text()
    assert ("https://colab.research.google.com/github/my-uni/boxloc-students/blob/fall-2027/"
            "course/release/04_inference/inference.ipynb") in readme
    assert "colab.research.google.com/github/boxloc-course" not in readme
    # the grading notebook never points at the student edition (it has no grader)
    instructor = (root / "course" / "instructor.ipynb").read_text()
    assert "boxloc-students" not in instructor and "boxloc-course/boxloc" not in instructor


@pytest.mark.parametrize("repository, branch, message", [
    ("not a repository", "main", "owner/name"), ("https://github.com/a/b", "main", "owner/name"),
    ("a/b", "two words", "not a branch name")])
def test_a_bad_setting_names_the_file_and_what_is_expected(tmp_path, repository, branch, message):
    root = copy_of_the_repository(tmp_path)
    set_publication(root, repository, branch)
    with pytest.raises(SystemExit, match=message) as error:
        publication.settings(root)
    assert "course.toml" in str(error.value)
