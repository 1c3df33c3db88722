"""The self-check cell students run before handing in (``boxloc.selfcheck``): it passes on the
executed solutions and names each problem the grader would have to repair."""

import copy
import json

import nbformat
import pytest

from boxloc import selfcheck
from grading import COURSE, MANAGE, ROOT

SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = sorted(SOLUTIONS.glob("*/*.ipynb"))


def _answers_namespace(nb):
    """A kernel's globals with every answer the manifest names defined."""
    return {a["name"]: (lambda *args: None) if a["function"] else 1.0
            for a in nb["metadata"]["boxloc"]["answers"]}


def _solution(path):
    return json.loads(path.read_text())


def _file(nb):
    return f"{nb['metadata']['boxloc']['notebook']} - alice_smith.ipynb"


def _flags(findings):
    return {(f["flag"], f["cell"]) for f in findings}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_the_executed_solutions_pass_their_self_check(path):
    nb = _solution(path)                  # raw JSON, sources as lists of lines (as Colab sends)
    cell = next(c for c in nbformat.read(path, as_version=4).cells
                if selfcheck.grade_id(c) == "self_check")
    printed = "".join(o.get("text", "") for o in cell.outputs)
    assert "Ready to hand in." in printed and "✗" not in printed, printed
    assert "student id 'sample_student'" in printed
    assert selfcheck.self_check(_answers_namespace(nb), nb, _file(nb)) == []


def test_every_notebook_carries_a_manifest_with_the_answers_of_its_hidden_file():
    for path in NOTEBOOKS:
        info = _solution(path)["metadata"]["boxloc"]
        assert info["assignment"] == path.parent.name and info["notebook"] == path.stem
        assert {"setup", "self_check", "before_you_start", "how_to_hand_in"} <= {
            c["grade_id"] for c in info["cells"]}
        graded = {c["grade_id"] for c in info["cells"] if c["grade"]}
        assert graded and {a["grade_id"] for a in info["answers"]} == graded
        assert all((c["digest"] is None) == (not c["locked"]) for c in info["cells"])


def test_the_manifest_holds_nothing_of_a_solution():
    for source in sorted((COURSE / "source").glob("*/*.ipynb")):
        nb = nbformat.read(source, as_version=4)
        text = json.dumps(nb.metadata["boxloc"])
        for cell in nb.cells:
            if "### BEGIN SOLUTION" in cell.source:
                body = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
                for line in body.strip().splitlines():
                    if len(line.strip()) > 12:
                        assert line.strip() not in text


@pytest.fixture
def anchors():
    return _solution(SOLUTIONS / "01_anchors" / "anchors.ipynb")


def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb["cells"]) if selfcheck.grade_id(c) == grade_id)


def _first(nb, kind):
    """Grade id of the first graded test cell ('grade') or answer cell ('solution')."""
    return next(c["grade_id"] for c in nb["metadata"]["boxloc"]["cells"] if c[kind])


def test_a_deleted_graded_cell_is_named(anchors, capsys):
    test_cell, answer_cell = _first(anchors, "grade"), _first(anchors, "solution")
    for gid in (test_cell, answer_cell):
        nb = copy.deepcopy(anchors)
        del nb["cells"][_index(nb, gid)]
        findings = selfcheck.self_check(_answers_namespace(nb), nb, _file(nb))
        assert ("missing", gid) in _flags(findings)
        printed = capsys.readouterr().out
        assert f"✗ {gid}: " in printed and "Ready to hand in." not in printed


def test_a_copied_cell_is_named(anchors, capsys):
    gid = _first(anchors, "solution")
    nb = copy.deepcopy(anchors)
    nb["cells"].insert(_index(nb, gid), copy.deepcopy(nb["cells"][_index(nb, gid)]))
    assert ("duplicate", gid) in _flags(selfcheck.self_check(_answers_namespace(nb), nb, _file(nb)))
    assert f"✗ {gid}: 2 copies" in capsys.readouterr().out


def test_a_changed_cell_type_is_named(anchors, capsys):
    gid = _first(anchors, "solution")
    nb = copy.deepcopy(anchors)
    cell = nb["cells"][_index(nb, gid)]
    cell["cell_type"] = "markdown"
    cell.pop("outputs"), cell.pop("execution_count")
    assert ("type_changed", gid) in _flags(selfcheck.self_check(_answers_namespace(nb), nb, _file(nb)))
    assert "must be a code cell, it is markdown" in capsys.readouterr().out


def test_an_edited_locked_cell_is_named_but_whitespace_is_not_an_edit(anchors, capsys):
    gid = _first(anchors, "grade")
    nb = copy.deepcopy(anchors)
    nb["cells"][_index(nb, gid)]["source"] += "\nprint('all good')"
    findings = selfcheck.self_check(_answers_namespace(nb), nb, _file(nb))
    assert _flags(findings) == {("edited", gid)}
    assert f"✗ {gid}: this locked cell was changed" in capsys.readouterr().out
    nb = copy.deepcopy(anchors)
    text = "".join(nb["cells"][_index(nb, gid)]["source"])
    nb["cells"][_index(nb, gid)]["source"] = "\n".join(line + "  " for line in text.split("\n")) + "\n\n"
    assert selfcheck.self_check(_answers_namespace(nb), nb, _file(nb)) == []


def test_an_undefined_answer_is_named(anchors, capsys):
    nb = copy.deepcopy(anchors)
    namespace = _answers_namespace(nb)
    answer = nb["metadata"]["boxloc"]["answers"][0]
    del namespace[answer["name"]]
    findings = selfcheck.self_check(namespace, nb, _file(nb))
    assert _flags(findings) == {("undefined", answer["grade_id"])}
    assert f"`{answer['name']}` is not defined" in capsys.readouterr().out
    function = next(a for a in nb["metadata"]["boxloc"]["answers"] if a["function"])
    namespace = {**_answers_namespace(nb), function["name"]: 3}
    assert ("undefined", function["grade_id"]) in _flags(selfcheck.self_check(namespace, nb, _file(nb)))


def test_the_file_name_must_hold_a_student_id(anchors, capsys):
    for name in ("anchors.ipynb", "Copy of anchors.ipynb", "Copy of anchors (1).ipynb", "01_anchors.ipynb"):
        assert ("file_name", None) in _flags(selfcheck.self_check(_answers_namespace(anchors), anchors, name))
    assert "holds no student id" in capsys.readouterr().out
    for name, sid in (("Copy of anchors - Alice Smith.ipynb", "alice_smith"), ("jsmith42 anchors.ipynb", "jsmith42")):
        assert selfcheck.self_check(_answers_namespace(anchors), anchors, name) == []
        assert f"student id {sid!r}" in capsys.readouterr().out


def test_an_unanswered_exercise_is_a_reminder_not_a_blocker(capsys):
    release = json.loads((COURSE / "release" / "01_anchors" / "anchors.ipynb").read_text())
    findings = selfcheck.self_check(_answers_namespace(release), release, _file(release))
    assert findings and {f["flag"] for f in findings} == {"unanswered"}
    assert "Ready to hand in." in capsys.readouterr().out


def test_a_notebook_without_its_course_metadata_is_told_to_start_again(anchors, capsys):
    nb = copy.deepcopy(anchors)
    del nb["metadata"]["boxloc"]
    assert _flags(selfcheck.self_check({}, nb, "anchors - a.ipynb")) == {("manifest", None)}
    assert "fresh copy" in capsys.readouterr().out


def test_self_check_reads_the_saved_notebook_named_by_jupyter(anchors, tmp_path, monkeypatch, capsys):
    path = tmp_path / "anchors - bob.ipynb"
    path.write_text(json.dumps(anchors))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    assert selfcheck.self_check(_answers_namespace(anchors)) == []
    assert "student id 'bob'" in capsys.readouterr().out
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert selfcheck.self_check({}) == []                  # no notebook to read: says so, no crash
    assert "could not be checked" in capsys.readouterr().out


def test_the_grader_repairs_what_the_self_check_names(anchors):
    """One implementation: each problem the self-check names is one the grader repairs."""
    from repairs import repair
    release = nbformat.read(COURSE / "release" / "01_anchors" / "anchors.ipynb", as_version=4)
    nb = copy.deepcopy(anchors)
    test_cell, answer_cell = _first(nb, "grade"), _first(nb, "solution")
    nb["cells"][_index(nb, test_cell)]["source"] = "pass"
    nb["cells"].insert(0, copy.deepcopy(nb["cells"][_index(nb, answer_cell)]))
    del nb["cells"][_index(nb, "setup")]
    named = _flags(selfcheck.cell_problems(nb, nb["metadata"]["boxloc"]))
    found = repair(nbformat.from_dict(nb), release, "anchors")
    assert {(f["flag"], f["cell"]) for f in found} >= {("edited", test_cell), ("duplicate", answer_cell)}
    assert named == {("edited", test_cell), ("duplicate", answer_cell), ("missing", "setup")}


def test_generate_writes_the_shared_cells_and_check_notices_a_stale_one(tmp_path):
    import shutil
    root = tmp_path / "repo"
    shutil.copytree(COURSE / "source", root / "course" / "source")
    shutil.copytree(COURSE / "hidden", root / "course" / "hidden")
    shutil.copytree(COURSE / "grader", root / "course" / "grader")
    shutil.copy(COURSE / "course.toml", root / "course")
    handin = MANAGE._course_module("handin")
    assert handin.mismatches(root) == []
    toml = root / "course" / "course.toml"
    toml.write_text(toml.read_text().replace(
        'upload = "the assignment page your teacher gave you (Canvas, Moodle, a shared folder)"',
        'upload = "the Canvas page of CS 175"'))
    assert len(handin.mismatches(root)) == 4
    assert len(handin.apply(root)) == 4 and handin.mismatches(root) == []
    nb = nbformat.read(root / "course/source/02_network/network.ipynb", as_version=4)
    text = nb.cells[_index(nb, "how_to_hand_in")].source
    assert "Upload the file to the Canvas page of CS 175" in text and "`network - <your student id>.ipynb`" in text
