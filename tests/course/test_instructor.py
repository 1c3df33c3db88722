"""The instructor workflow (course/instructor.py): collect Colab downloads from a folder and a
zip, grade a batch holding every known fault in ONE grading run (sandboxes, judge, nbgrader's
gradebook), export the CSV and the HTML feedback."""

import copy
import csv
import json
import shutil
import zipfile

import nbformat
import pytest

from classroom import collecting, commands, repairs
from course_helpers import COURSE, copy_course, fast_environment, fill, release_points, scores, solution_cells


ASSIGNMENT = "01_anchors"
SOURCE = COURSE / "source" / ASSIGNMENT / "anchors.ipynb"
POINTS = release_points(ASSIGNMENT)
SOLUTIONS = solution_cells(SOURCE)


def gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def position(nb, grade_id):
    return [gid(c) for c in nb.cells].index(grade_id)


def solved(release, **answers):
    return fill(release, {**SOLUTIONS, **answers})


def error_in_solution(release):                    # alice: an exception, anchor_size undefined
    return solved(release, anchor_size="import no_such_module\n" + SOLUTIONS["anchor_size"])


def infinite_loop(release):                        # bob: the count test never returns
    return solved(release, count_anchors="def count_anchors(*args):\n    while True:\n        pass")


def deleted_test(release):                         # carol
    nb = solved(release)
    del nb.cells[position(nb, "test_anchor_size")]
    return nb


def edited_test(release):                          # dave: wrong answer, test edited to pass
    nb = solved(release, refinement='refinement_answer = "a"')
    nb.cells[position(nb, "test_refinement")].source = 'print("all tests pass")'
    return nb


def copied_cells(release):                         # erin: solution and test cells pasted twice
    nb = solved(release)
    i = position(nb, "count_anchors")
    copies = [copy.deepcopy(nb.cells[i]), copy.deepcopy(nb.cells[i + 1])]
    for n, cell in enumerate(copies):
        cell.id = f"pasted{n}"                     # Jupyter gives a pasted cell a new id
    nb.cells[i + 2:i + 2] = copies
    return nb


def changed_types(release):                        # frank: a solution -> markdown, a test -> raw
    nb = solved(release)
    for grade_id, cell_type in (("refinement", "markdown"), ("test_anchor_size", "raw")):
        cell = nb.cells[position(nb, grade_id)]
        cell.cell_type = cell_type
        del cell["outputs"], cell["execution_count"]
    return nb


def colab(release):                                # grace: Colab's metadata, nbformat 4.0
    nb = solved(release)
    nb.nbformat_minor = 0
    nb.metadata.update(colab={"provenance": [], "name": "Copy of anchors.ipynb", "gpuType": "T4"},
                       accelerator="GPU", gpuClass="standard",
                       kernelspec={"name": "python3", "display_name": "Python 3"})
    for k, cell in enumerate(nb.cells):
        cell.pop("id", None)
        cell.metadata["id"] = f"x{k:05d}"
        if cell.cell_type == "code":
            cell.metadata.update(colab={"base_uri": "https://localhost:8080/"}, outputId="abc")
    return nb


def answer_moved(release):                         # heidi: solution and test deleted, answer elsewhere
    nb = solved(release)
    answer = nbformat.v4.new_code_cell(SOLUTIONS["anchor_size"])
    i = position(nb, "anchor_size")
    nb.cells[i:i + 2] = [answer]
    return nb


FOLDER = {"alice_smith.ipynb": error_in_solution, "Copy of anchors - Bob.ipynb": infinite_loop,
          "carol/anchors.ipynb": deleted_test, "dave/Copy of anchors.ipynb": edited_test}
ZIPPED = {"Copy of anchors - Erin.ipynb": copied_cells, "frank_anchors.ipynb": changed_types,
          "Grace Hopper/anchors (1).ipynb": colab, "01_anchors_heidi.ipynb": answer_moved}
EXPECTED = {
    "alice_smith": (dict(POINTS, test_anchor_size=0), []),
    "bob": (dict(POINTS, test_count_anchors=0), ["timeout:test_count_anchors"]),
    "carol": (POINTS, ["restored:test_anchor_size"]),
    "dave": (dict(POINTS, test_refinement=0), ["edited:test_refinement"]),
    "erin": (POINTS, ["duplicate:count_anchors", "duplicate:test_count_anchors"]),
    "frank": (POINTS, ["type_changed:test_anchor_size", "type_changed:refinement"]),
    "grace_hopper": (POINTS, []),
    "heidi": (POINTS, ["missing_solution:anchor_size", "restored:test_anchor_size"]),
}


def new_course(folder):
    """A course folder with the sources, hidden tests and config of course/ (release not
    generated yet)."""
    return copy_course(folder)


def write_downloads(folder, release):
    """The folder and the zip of Colab downloads (plus litter the collector must skip/report)."""
    downloads = folder / "downloads"
    for name, make in FOLDER.items():
        (downloads / name).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(make(release), downloads / name)
    nbformat.write(solved(release), downloads / "Copy of anchors.ipynb")      # no student name
    (downloads / "notes.txt").write_text("not a notebook")
    (downloads / ".ipynb_checkpoints").mkdir()
    nbformat.write(solved(release), downloads / ".ipynb_checkpoints" / "zoe-checkpoint.ipynb")
    archive = folder / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, make in ZIPPED.items():
            zf.writestr(f"submissions-20261201T090000Z-001/{name}", nbformat.writes(make(release)))
        zf.writestr("__MACOSX/._frank_anchors.ipynb", "resource fork")
    return downloads, archive


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """release -> collect (folder, zip) -> grade (10 s per cell) -> export -> feedback, once."""
    folder = tmp_path_factory.mktemp("instructor")
    course = new_course(folder)
    opts = ["--course", str(course)]
    with fast_environment(course):
        results = {"release": commands.instructor(["release", *opts])}
        downloads, archive = write_downloads(folder, course / "release" / ASSIGNMENT / "anchors.ipynb")
        results["folder"] = collecting.collect(downloads, ASSIGNMENT, course)
        results["zip"] = collecting.collect(archive, ASSIGNMENT, course)
        results["grade"] = commands.instructor(["grade", "--assignment", ASSIGNMENT, "--timeout", "30", *opts])
        results["export"] = commands.instructor(["export", "--assignment", ASSIGNMENT,
                                             "--csv", str(folder / "grades.csv"), *opts])
        results["feedback"] = commands.instructor(["feedback", "--assignment", ASSIGNMENT, *opts])
    results["course"], results["csv"] = course, folder / "grades.csv"
    results["report"] = json.loads((course / "reports" / ASSIGNMENT / "grading.json").read_text())
    return results


@pytest.mark.parametrize("name, student", [
    ("alice_smith.ipynb", "alice_smith"), ("Alice Smith.ipynb", "alice_smith"),
    ("Copy of anchors - alice.ipynb", "alice"), ("Copy of Copy of anchors_alice (2).ipynb", "alice"),
    ("alice/anchors.ipynb", "alice"), ("alice/Copy of anchors.ipynb", "alice"),
    ("Grace Hopper/01_anchors/anchors (1).ipynb", "grace_hopper"), ("bob_anchors.ipynb", "bob"),
    ("José-Núñez.ipynb", "jose_nunez"), ("wrap/01_anchors_heidi.ipynb", "heidi"),
    ("Copy of anchors.ipynb", None), ("anchors (1).ipynb", None)])
def test_student_id_naming_rule(name, student):
    assert collecting.student_id(name, ["anchors", ASSIGNMENT]) == student


def test_release_command_generates_the_release(run):
    assert run["release"] == 0
    assert (run["course"] / "release" / ASSIGNMENT / "anchors.ipynb").exists()


def test_collect_maps_folder_and_zip_files_to_nbgraders_layout(run):
    submitted = run["course"] / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(EXPECTED)
    for student in EXPECTED:
        assert [p.name for p in (submitted / student / ASSIGNMENT).iterdir()] == ["anchors.ipynb"]
    assert len(run["folder"]["copied"]) == len(FOLDER) and len(run["zip"]["copied"]) == len(ZIPPED)


def test_collect_reports_what_it_does_not_copy(run):
    assert run["folder"]["unmatched"] == [("Copy of anchors.ipynb", "no student id in the name")]
    assert run["folder"]["ignored"] == [("notes.txt", "not a notebook")]
    assert run["zip"]["unmatched"] == run["zip"]["ignored"] == []     # __MACOSX litter skipped


def test_collect_never_overwrites_silently(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE / "release", course / "release")
    release = course / "release" / ASSIGNMENT / "anchors.ipynb"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    nbformat.write(solved(release), first / "amy.ipynb")
    nbformat.write(fill(release, {}), second / "amy.ipynb")
    nbformat.write(solved(release), second / "Copy of anchors - ben.ipynb")
    nbformat.write(fill(release, {}), second / "ben.ipynb")
    target = course / "submitted" / "amy" / ASSIGNMENT / "anchors.ipynb"
    assert commands.instructor(["collect", str(first), "--assignment", ASSIGNMENT, "--course", str(course)]) == 0
    original = target.read_bytes()
    assert collecting.collect(first, ASSIGNMENT, course)["unchanged"]
    report = collecting.collect(second, ASSIGNMENT, course)
    assert target.read_bytes() == original and [s for s, _ in report["kept"]] == ["amy.ipynb"]
    assert sorted(s for s, _ in report["conflict"]) == ["Copy of anchors - ben.ipynb", "ben.ipynb"]
    assert all("'Copy of anchors - ben.ipynb', 'ben.ipynb'" in note for _, note in report["conflict"])
    assert not (course / "submitted" / "ben").exists()
    mapping = tmp_path / "map.csv"                 # the instructor says who is who
    mapping.write_text("file,student\nben.ipynb,Ben Old\n")
    assert commands.instructor(["collect", str(second), "--assignment", ASSIGNMENT, "--course", str(course),
                            "--map", str(mapping)]) == 1          # amy's file still differs: kept
    assert (course / "submitted" / "ben_old" / ASSIGNMENT / "anchors.ipynb").exists()
    assert (course / "submitted" / "ben" / ASSIGNMENT / "anchors.ipynb").exists()
    assert collecting.collect(second, ASSIGNMENT, course, force=True)["replaced"]
    assert target.read_bytes() != original


def test_unreadable_download_is_reported(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE / "release", course / "release")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cy.ipynb").write_text("{ not json")
    report = collecting.collect(tmp_path / "in", ASSIGNMENT, course)
    assert report["unreadable"] and not (course / "submitted").exists()


def test_batch_is_graded_without_losing_anyone(run):
    assert run["grade"] == 0
    for student in EXPECTED:
        assert (run["course"] / "autograded" / student / ASSIGNMENT / "anchors.ipynb").exists()


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_fault_is_graded_and_reported(run, student):
    expected_scores, expected_flags = EXPECTED[student]
    assert scores(run["course"], ASSIGNMENT, student) == expected_scores
    found = {f"{f['flag']}:{f['cell']}" for f in run["report"][student] if f["flag"] != "colab"}
    assert found == set(expected_flags)


def test_submissions_are_kept_as_sent(run):
    dave = nbformat.read(run["course"] / "submitted" / "dave" / ASSIGNMENT / "anchors.ipynb", 4)
    assert dave.cells[position(dave, "test_refinement")].source == 'print("all tests pass")'
    colab_nb = nbformat.read(run["course"] / "submitted" / "grace_hopper" / ASSIGNMENT / "anchors.ipynb", 4)
    assert colab_nb.metadata["accelerator"] == "GPU"
    assert any(f["flag"] == "colab" for f in run["report"]["grace_hopper"])


def test_restored_test_cell_runs_after_the_students_own_answer(run):
    nb = nbformat.read(run["course"] / "autograded" / "heidi" / ASSIGNMENT / "anchors.ipynb", 4)
    sources = [c.source for c in nb.cells]
    answer = sources.index(SOLUTIONS["anchor_size"])
    assert answer < position(nb, "anchor_size") < position(nb, "test_anchor_size")


def test_csv_has_a_row_per_student_with_points_total_and_flags(run):
    assert run["export"] == 0
    with open(run["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["student", *POINTS, "total", "flags", "details"]
    assert [r["student"] for r in rows] == sorted(EXPECTED)
    for row in rows:
        expected_scores, expected_flags = EXPECTED[row["student"]]
        assert {k: float(row[k]) for k in POINTS} == expected_scores
        assert float(row["total"]) == sum(expected_scores.values())
        assert set(filter(None, row["flags"].split("; "))) == set(expected_flags)


def test_html_feedback_per_student(run):
    assert run["feedback"] == 0
    for student in EXPECTED:
        html = run["course"] / "feedback" / student / ASSIGNMENT / "anchors.html"
        text = html.read_text()
        assert html.exists() and "test_count_anchors" in text
    # nothing of the hidden side is shown: a failed exercise names the visible checks that
    # failed by their titles, with what the answer did, and counts the others
    for student in EXPECTED:
        text = (run["course"] / "feedback" / student / ASSIGNMENT / "anchors.html").read_text()
        assert "library_anchor_count" not in text and "anchor_templates" not in text
        assert "<script" not in text
    alice = (run["course"] / "feedback" / "alice_smith" / ASSIGNMENT / "anchors.html").read_text()
    assert "test_anchor_size: 0 / 2" in alice and "test_count_anchors: 2 / 2" in alice
    assert "✗ check 1, “square base anchor”: raised NameError" in alice
    assert "✗ check 2, “ratio 0.5 is tall”: raised NameError" in alice
    assert "other inputs were tried too: 5 of 5 failed" in alice
    bob = (run["course"] / "feedback" / "bob" / ASSIGNMENT / "anchors.html").read_text()
    assert "✗ check 1, “tutorial configuration” did not finish within 30 s" in bob
    assert "“tutorial configuration”: expected" not in bob            # not "expected ..."


def test_instructor_notebook_is_valid_and_not_an_assignment():
    nb = nbformat.read(COURSE / "instructor.ipynb", as_version=4)
    nbformat.validate(nb)
    assert not any("nbgrader" in c.metadata for c in nb.cells)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for command in ("release", "collect", "grade", "export", "feedback"):
        assert f'"{command}"' in code
    assert "drive.mount" not in code and "files.upload()" in code and "files.download(" in code


def test_repair_puts_deleted_cells_back_in_place():
    release = nbformat.read(COURSE / "release" / ASSIGNMENT / "anchors.ipynb", as_version=4)
    nb = solved(COURSE / "release" / ASSIGNMENT / "anchors.ipynb")
    nb.cells = [c for c in nb.cells if gid(c) not in ("setup", "refinement", "test_refinement")]
    stray = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "from_2019"}})
    nb.cells.append(stray)
    found = {(f["flag"], f["cell"]) for f in repairs.repair(nb, release, "anchors")}
    assert found == {("restored_locked", "setup"), ("missing_solution", "refinement"),
                     ("restored", "test_refinement"), ("unknown_id", "from_2019")}
    assert position(nb, "setup") == position(release, "setup")          # imports run first
    assert position(nb, "refinement") + 1 == position(nb, "test_refinement") == position(nb, "small_config") - 1
    assert "nbgrader" not in nb.cells[-1].metadata
    nbformat.validate(nb)


@pytest.mark.parametrize("tamper, message", [
    ("manual", "manual score"), ("auto", "but the judge gave"), ("points", "differ from the release"),
    ("extra", "extra credit")])
def test_export_refuses_a_gradebook_changed_after_grading(run, tmp_path, tamper, message, capsys):
    from nbgrader.api import Gradebook
    course = tmp_path / "course"
    shutil.copytree(run["course"], course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade("test_refinement", "anchors", ASSIGNMENT, "dave")
        if tamper == "manual":
            grade.manual_score = 1.0
        elif tamper == "auto":
            grade.auto_score = 1.0
        elif tamper == "extra":
            grade.extra_credit = 5.0
        else:
            gradebook.find_grade_cell("test_refinement", "anchors", ASSIGNMENT).max_score = 10
        gradebook.db.commit()
    options = ["export", "--assignment", ASSIGNMENT, "--csv", str(tmp_path / "g.csv"), "--course", str(course)]
    assert commands.instructor(options) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "g.csv").exists()
    if tamper == "manual":                     # set on purpose in formgrader: accepted when asked
        assert commands.instructor(options + ["--accept-manual-scores"]) == 0
