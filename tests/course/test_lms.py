"""A term through the class's LMS (course/classroom/lms/, issue 21): downloads in each of
Canvas's, Moodle's, Blackboard's and Gradescope's layouts, built from the executed solution
notebook with their odd cases (Canvas's _LATE, -1 re-uploads and anonymous names, Moodle's
folder, flat and blind modes, Blackboard's attempt .txt files, Gradescope's metadata yml, a name
with accents), are collected under one stable id per student; the gradebooks the instructor
downloads are filled in place, byte for byte but the assignment's cells; the feedback pages
are zipped as each LMS takes them back. The round trip (download -> collect -> grade -> export
-> upload file) of all four LMSs shares one grading run."""

import codecs
import csv
import io
import json
import zipfile
from datetime import datetime, timezone
from pathlib import PurePosixPath

import nbformat
import pytest

from classroom import collecting, commands, lms
from classroom.grader.flag_names import FLAG_NAMES
from classroom.lms import blackboard, canvas, common, gradescope, moodle
from classroom.lms.table import Table
from course_helpers import (COURSE, ROOT, control_characters, fast_environment, fill,
                            formula_cells, make_course, release_points)

ASSIGNMENT = "01_anchors"
SOLUTION = ROOT / "solutions" / ASSIGNMENT / "anchors.ipynb"
POINTS = release_points(ASSIGNMENT)
FULL = sum(POINTS.values())                        # 21
WRONG_REFINEMENT = {"refinement": 'refinement_answer = "a"'}   # loses test_refinement (1 point)
DUE = "2026-11-30T17:00:00+00:00"


def solved():
    return SOLUTION.read_bytes()


def wrong():
    return nbformat.writes(fill(SOLUTION, WRONG_REFINEMENT)).encode()


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def files_of(members):
    """(rel, data, note) as collecting.source_files gives them."""
    return [(PurePosixPath(name), data, "") for name, data in members.items()]


# --- the downloads, as each LMS names them ------------------------------------------------------
def canvas_download():
    return {
        "smithalice_123456_7890123_anchors.ipynb": wrong(),           # first upload
        "smithalice_123456_7890199_anchors-1.ipynb": solved(),        # re-upload: counts
        "núñezjosé_LATE_234567_7890200_Copy of anchors.ipynb": solved(),
        "anon_Xy3Zq_7890300_anchors.ipynb": solved(),
        "LATE_anon_Ab12C_7890301_anchors.ipynb": solved(),
        "smithalice_123456_7890124_notes.txt": b"my notes",
        "anchors.ipynb": solved(),                                     # not Canvas's naming
    }


CANVAS_GRADEBOOK = (
    codecs.BOM_UTF8 + "\r\n".join([
        "Student,ID,SIS User ID,SIS Login ID,Section,Anchors (5501),Network (5502),Current Score",
        "    Points Possible,,,,,21.00,30.00,(read only)",
        '"Smith, Alice",123456,S001,asmith,Section A,,25,83.3',
        '"Núñez, José",234567,S002,jnunez,Section A,,,',
        '"Doe, Jane",345678,S003,jdoe,Section B,,28,93.3',
        '"Student, Test",999999,,,,,,',
    ]).encode() + b"\r\n")


def moodle_download(mode="folders"):
    if mode == "flat":
        return {"Alice Smith_1234567_assignsubmission_file_anchors.ipynb": solved(),
                "José Núñez_1234568_assignsubmission_file_Copy of anchors.ipynb": solved(),
                "Alice Smith_1234567_assignsubmission_onlinetext_onlinetext.html": b"<p>hi</p>"}
    if mode == "blind":
        return {"Participant_1234567_assignsubmission_file_/anchors.ipynb": solved()}
    return {"Alice Smith_1234567_assignsubmission_file_/anchors.ipynb": solved(),
            "José Núñez_1234568_assignsubmission_file_/Copy of anchors.ipynb": solved(),
            "Bob Stone_1234569_assignsubmission_file/sub/anchors.ipynb": solved()}   # Moodle 4.1+


MOODLE_WORKSHEET = "\n".join([
    "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
    "Last modified (submission),Online text,Last modified (grade),Feedback comments",
    'Participant 1234567,Alice Smith,alice@uni.edu,Submitted for grading,,21.00,Yes,'
    '"Monday, 30 November 2026, 4:05 PM",,-,',
    'Participant 1234568,José Núñez,jose@uni.edu,Submitted for grading,,21.00,Yes,'
    '"Monday, 30 November 2026, 6:30 PM",,-,',
    'Participant 1234570,Carol King,carol@uni.edu,No submission,,21.00,Yes,-,,-,',
]).encode() + b"\n"


def blackboard_download():
    def info(name, username, time, files):
        return "\n".join([f"Name: {name} ({username})", "Assignment: Anchors",
                          f"Date Submitted: {time}", "Current Grade: Needs Grading", "",
                          "Submission Field:", "There is no student submission text data.", "",
                          "Comments:", "There are no student comments for this assignment.", "",
                          "Files:"] + [f"\tOriginal filename: {o}\n\tFilename: {s}"
                                       for o, s in files]).encode()
    first, second = "2026-11-30-16-05-11", "2026-11-30-19-45-00"
    return {
        f"Anchors_bwayne_attempt_{first}_anchors.ipynb": solved(),
        f"Anchors_bwayne_attempt_{first}.txt": info(
            "Bruce Wayne", "bwayne", first, [("anchors.ipynb",
                                               f"Anchors_bwayne_attempt_{first}_anchors.ipynb")]),
        f"Anchors_bwayne_attempt_{second}_anchors.ipynb": wrong(),   # a later, late attempt
        f"Anchors_bwayne_attempt_{second}.txt": info(
            "Bruce Wayne", "bwayne", second, [("anchors.ipynb",
                                                f"Anchors_bwayne_attempt_{second}_anchors.ipynb")]),
        f"Anchors_j_nunez_attempt_{first}_Copy of anchors.ipynb": solved(),
        f"Anchors_j_nunez_attempt_{first}.txt": info(
            "José Núñez", "j_nunez", first, [("Copy of anchors.ipynb",
                                              f"Anchors_j_nunez_attempt_{first}_Copy of anchors.ipynb")]),
    }


def blackboard_gradebook():
    """Grade Center's tab-separated download: UTF-16 with its BOM, every field quoted, CRLF."""
    rows = [["Last Name", "First Name", "Username", "Student ID", "Last Access", "Availability",
             "Anchors [Total Pts: 21 Score] |664617", "Network [Total Pts: 30 Score] |664618"],
            ["Wayne", "Bruce", "bwayne", "S100", "2026-11-30 10:00:00", "Yes", "", "27"],
            ["Núñez", "José", "j_nunez", "S101", "2026-11-29 09:00:00", "Yes", "", ""],
            ["Kent", "Clark", "ckent", "S102", "", "Yes", "", "30"]]
    text = "".join("\t".join(f'"{v}"' for v in row) + "\r\n" for row in rows)
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


GRADESCOPE_METADATA = """submission_99887766:
  :submitters:
  - :name: Grace Hopper
    :sid: '12345'
    :email: grace@uni.edu
  :created_at: 2026-11-30 16:59:30.123456789 +00:00
  :score: 0.0
  :status: processed
submission_99887767:
  :submitters:
  - :name: Zoë Ada
    :sid: '12346'
    :email: zoe@uni.edu
  - :name: Ada Lovelace
    :sid: ''
    :email: ada@uni.edu
  :created_at: 2026-12-01 19:15:00.000000000 +01:00
""".encode()


def gradescope_download(top="assignment_4242_export/"):
    return {f"{top}submission_99887766/anchors.ipynb": solved(),
            f"{top}submission_99887767/Copy of anchors.ipynb": solved(),
            f"{top}submission_99887768/anchors.ipynb": solved(),       # not in the metadata
            f"{top}submission_metadata.yml": GRADESCOPE_METADATA}


GRADESCOPE_ROSTER = ("First Name,Last Name,SID,Email,Role,Sections\n"
                     "Grace,Hopper,12345,grace@uni.edu,Student,\n"
                     "Zoë,Ada,12346,zoe@uni.edu,Student,\n").encode()


# --- names: each LMS's parser, no course needed -------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("smithalice_123456_7890123_anchors.ipynb",
     {"key": "123456", "name": "smithalice", "late": False, "display": "anchors.ipynb",
      "reupload": 0, "prefix": "smithalice_123456_7890123_"}),
    ("smithalice_123456_7890199_anchors-1.ipynb",
     {"key": "123456", "late": False, "display": "anchors.ipynb", "reupload": 1}),
    ("núñezjosé_LATE_234567_7890200_Copy of anchors.ipynb",
     {"key": "234567", "name": "núñezjosé", "late": True, "display": "Copy of anchors.ipynb"}),
    ("anon_Xy3Zq_7890300_anchors.ipynb", {"key": "anon_Xy3Zq", "name": "", "late": False}),
    ("LATE_anon_Ab12C_7890301_anchors-2.ipynb",
     {"key": "anon_Ab12C", "late": True, "reupload": 2, "display": "anchors.ipynb"}),
    ("smith_jr_alice_42_7_my_file_1_2_.ipynb", {"key": "42", "name": "smith_jr_alice"}),
    ("anchors.ipynb", None), ("Copy of anchors - Alice.ipynb", None)])
def test_canvas_names(name, expected):
    found = canvas.parse_name(name)
    assert found == expected if expected is None else {k: found[k] for k in expected} == expected


def test_canvas_latest_upload_ranks_highest_and_ids_stay_numbers():
    entries, read, unmatched = canvas.parse(files_of(canvas_download()))
    assert unmatched == [("anchors.ipynb", unmatched[0][1])] and read == []
    ranks = {e.rel.name: e.rank for e in entries if e.key == "123456"}
    assert ranks["smithalice_123456_7890199_anchors-1.ipynb"] > ranks["smithalice_123456_7890123_anchors.ipynb"]
    huge = canvas.parse_name("a_1_" + "9" * 5000 + "_x.ipynb")            # no int() of 5000 digits
    assert huge["key"] == "1" and common.number_rank("9" * 5000) > common.number_rank("8" * 4999)


@pytest.mark.parametrize("path, expected", [
    ("Alice Smith_1234567_assignsubmission_file_/anchors.ipynb",
     {"who": "Alice Smith", "pid": "1234567", "display": "anchors.ipynb"}),
    ("José Núñez_1234568_assignsubmission_file_Copy of anchors.ipynb",
     {"who": "José Núñez", "pid": "1234568", "display": "Copy of anchors.ipynb"}),
    ("Bob Stone_1234569_assignsubmission_file/sub/anchors.ipynb",
     {"who": "Bob Stone", "pid": "1234569", "display": "anchors.ipynb"}),
    ("wrap/Participant_1234567_assignsubmission_file_/anchors.ipynb",
     {"who": "Participant", "pid": "1234567"}),
    ("Alice Smith_1234567_assignsubmission_onlinetext_onlinetext.html", None),
    ("Alice Smith_1234567_assignsubmission_file_", None), ("alice/anchors.ipynb", None)])
def test_moodle_paths(path, expected):
    found = moodle.parse_path(PurePosixPath(path))
    assert found == expected if expected is None else {k: found[k] for k in expected} == expected


def test_moodle_blind_marking_names_no_one():
    (entry,), _, _ = moodle.parse(files_of(moodle_download("blind")))
    assert (entry.key, entry.name, lms.student_of(entry, moodle)[0]) == \
        ("1234567", "", "participant_1234567")


def test_blackboard_attempts_read_their_info_files():
    entries, read, unmatched = blackboard.parse(files_of(blackboard_download()))
    assert unmatched == [] and len(read) == 3
    by_time = sorted((e.key, e.name, e.time, e.display) for e in entries)
    assert by_time == [
        ("bwayne", "Bruce Wayne", datetime(2026, 11, 30, 16, 5, 11), "anchors.ipynb"),
        ("bwayne", "Bruce Wayne", datetime(2026, 11, 30, 19, 45), "anchors.ipynb"),
        ("j_nunez", "José Núñez", datetime(2026, 11, 30, 16, 5, 11), "Copy of anchors.ipynb")]


def test_blackboard_usernames_without_info_files():
    files = [(rel, data, note) for rel, data, note in files_of(blackboard_download())
             if rel.suffix != ".txt"]
    assert {e.key for e in blackboard.parse(files)[0]} == {"bwayne", "j_nunez"}   # shared start
    single = [f for f in files if "bwayne" in f[0].name][:1]
    assert [e.key for e in blackboard.parse(single)[0]] == ["bwayne"]             # last part
    assert blackboard.parse_name("Anchors_x_attempt_2026-13-45-00-00-00_a.ipynb")["time"]
    assert blackboard.parse([(PurePosixPath("Anchors_x_attempt_2026-13-45-00-00-00_a.ipynb"),
                              b"{}", "")])[2]                  # month 13: reported, no crash


def test_gradescope_metadata_names_submitters_and_times():
    pytest.importorskip("yaml")
    entries, read, unmatched = gradescope.parse(files_of(gradescope_download()))
    assert [r for r, _ in read] == ["assignment_4242_export/submission_metadata.yml"]
    assert [r for r, _ in unmatched] == ["assignment_4242_export/submission_99887768/anchors.ipynb"]
    found = {(e.key, e.name, e.time.astimezone(timezone.utc).replace(tzinfo=None))
             for e in entries}
    assert found == {("12345", "Grace Hopper", datetime(2026, 11, 30, 16, 59, 30, 123456)),
                     ("12346", "Zoë Ada", datetime(2026, 12, 1, 18, 15)),        # a group:
                     ("ada@uni.edu", "Ada Lovelace", datetime(2026, 12, 1, 18, 15))}  # both


@pytest.mark.parametrize("metadata", [b"- a list\n", b"submission_1: [unclosed\n", b"\xff\xfe",
                                      b"&a [*a, *a]\n", b"submission_1:\n  :submitters: 3\n"])
def test_gradescope_hostile_metadata_is_reported(metadata):
    pytest.importorskip("yaml")
    files = files_of({"submission_1/anchors.ipynb": b"{}", "submission_metadata.yml": metadata})
    entries, read, unmatched = gradescope.parse(files)
    assert entries == [] and "submission_1/anchors.ipynb" in [r for r, _ in unmatched]


@pytest.mark.parametrize("make, system", [
    (canvas_download, canvas), (moodle_download, moodle), (lambda: moodle_download("flat"), moodle),
    (blackboard_download, blackboard), (gradescope_download, gradescope)])
def test_auto_recognises_each_layout(make, system):
    assert lms.recognise(files_of(make())) is system


def test_auto_refuses_what_no_lms_named():
    with pytest.raises(SystemExit, match="no LMS's naming"):
        lms.recognise(files_of({"Copy of anchors - Alice.ipynb": b"{}"}))


# --- rosters and gradebook files --------------------------------------------------------------
@pytest.mark.parametrize("data, system, expected", [
    (CANVAS_GRADEBOOK, canvas, {"123456": ("asmith", "Alice", "Smith"),
                                "234567": ("jnunez", "José", "Núñez"),
                                "345678": ("jdoe", "Jane", "Doe"), "999999": ("999999", "Test", "Student")}),
    (MOODLE_WORKSHEET, moodle, {"1234567": ("alice@uni.edu", "Alice", "Smith"),
                                "1234568": ("jose@uni.edu", "José", "Núñez"),
                                "1234570": ("carol@uni.edu", "Carol", "King")}),
    (blackboard_gradebook(), blackboard, {"bwayne": ("bwayne", "Bruce", "Wayne"),
                                          "j_nunez": ("j_nunez", "José", "Núñez"),
                                          "ckent": ("ckent", "Clark", "Kent")}),
    (GRADESCOPE_ROSTER, gradescope, {"12345": ("12345", "Grace", "Hopper"),
                                     "12346": ("12346", "Zoë", "Ada")})])
def test_rosters(tmp_path, data, system, expected):
    path = tmp_path / "roster"
    path.write_bytes(data)
    table = Table.read(path)
    assert lms.gradebook_system("auto", table) is system
    people = lms.read_roster(path, system)
    assert {k: (p.login, p.first, p.last) for k, p in people.items()} == expected


def test_table_edits_only_its_cells():
    data = (codecs.BOM_UTF8 + 'a,b,"c, quoted"\r\n1,"",x\r\n2\r\n"multi\r\nline",y,"say ""hi"""\r\n'
            .encode())
    table = Table(data)
    assert table.header == ["a", "b", "c, quoted"] and table.delimiter == ","
    out = table.with_cells({(1, 1): "7", (2, 2): "8", (3, 0): "=9"})
    assert out == (codecs.BOM_UTF8 + 'a,b,"c, quoted"\r\n1,"7",x\r\n2,,8\r\n"=9",y,"say ""hi"""\r\n'
                   .encode())
    legacy = "Name;Note\nRenée;\n".encode("cp1252")                  # a spreadsheet's save
    assert Table(legacy).with_cells({(1, 1): "5"}) == "Name;Note\nRenée;5\n".encode("cp1252")


# --- collect: one student, one id ---------------------------------------------------------------
@pytest.fixture
def released(tmp_path):
    """A course folder with the committed release of the assignment (no gradebook)."""
    import shutil
    course = tmp_path / "course"
    shutil.copytree(COURSE / "release", course / "release")
    return course


def collected(course, members, lms_name, tmp_path, roster=None, due=None, name="download.zip"):
    archive = write_zip(tmp_path / name, members)
    roster_path = None
    if roster is not None:
        roster_path = tmp_path / f"roster-{name}.csv"
        roster_path.write_bytes(roster)
    report = collecting.collect(archive, ASSIGNMENT, course, lms_name=lms_name,
                                roster=roster_path, due=due)
    record = json.loads((course / "reports" / ASSIGNMENT / "lms.json").read_text())["students"]
    return report, record


def submitted(course):
    return sorted(p.name for p in (course / "submitted").iterdir())


def sources(report, status):
    return sorted(source for source, _ in report[status])


def test_canvas_collect_without_a_roster(released, tmp_path):
    report, record = collected(released, canvas_download(), "canvas", tmp_path)
    assert submitted(released) == ["123456", "234567", "anon_ab12c", "anon_xy3zq"]
    assert sources(report, "superseded") == ["smithalice_123456_7890123_anchors.ipynb"]
    alice = released / "submitted" / "123456" / ASSIGNMENT / "anchors.ipynb"
    assert alice.read_bytes() == solved()                              # the re-upload counts
    assert sources(report, "unmatched") == ["anchors.ipynb"]
    assert sources(report, "ignored") == ["smithalice_123456_7890124_notes.txt"]
    assert {sid for sid, d in record.items() if d["late"]} == {"234567", "anon_ab12c"}
    assert record["234567"]["late_minutes"] is None and record["234567"]["marked_late_by_lms"]
    assert record["123456"]["files"]["anchors"]["prefix"] == "smithalice_123456_7890199_"


def test_canvas_collect_with_the_gradebook_as_roster(released, tmp_path):
    report, record = collected(released, canvas_download(), "auto", tmp_path,
                               roster=CANVAS_GRADEBOOK)
    assert submitted(released) == ["anon_ab12c", "anon_xy3zq", "asmith", "jnunez"]
    assert (record["jnunez"]["name"], record["jnunez"]["first"], record["jnunez"]["last"]) == \
        ("José Núñez", "José", "Núñez")
    assert sources(report, "unlisted") == ["LATE_anon_Ab12C_7890301_anchors.ipynb",
                                           "anon_Xy3Zq_7890300_anchors.ipynb"]
    assert commands.instructor(["collect", str(tmp_path / "download.zip"), "--assignment", ASSIGNMENT,
                                "--course", str(released), "--lms", "canvas", "--roster",
                                str(tmp_path / "roster-download.zip.csv")]) == 1   # unlisted


def test_moodle_folder_and_flat_modes_give_the_same_ids(released, tmp_path):
    report, record = collected(released, moodle_download(), "moodle", tmp_path)
    assert submitted(released) == ["alice_smith", "bob_stone", "jose_nunez"]
    flat, flat_record = collected(released, moodle_download("flat"), "auto", tmp_path,
                                  name="flat.zip")
    assert sources(flat, "unchanged") == [
        "Alice Smith_1234567_assignsubmission_file_anchors.ipynb",
        "José Núñez_1234568_assignsubmission_file_Copy of anchors.ipynb"]
    assert sources(flat, "ignored") == ["Alice Smith_1234567_assignsubmission_onlinetext_onlinetext.html"]
    assert flat_record["alice_smith"]["prefix"] == "Alice Smith_1234567_assignsubmission_file_"


def test_moodle_worksheet_logins_and_lateness(released, tmp_path):
    report, record = collected(released, moodle_download(), "moodle", tmp_path,
                               roster=MOODLE_WORKSHEET, due="2026-11-30T17:00")
    assert submitted(released) == ["alice_uni_edu", "bob_stone", "jose_uni_edu"]
    assert sources(report, "unlisted") == ["Bob Stone_1234569_assignsubmission_file/sub/anchors.ipynb"]
    assert record["jose_uni_edu"]["late_minutes"] == 90 and not record["alice_uni_edu"]["late"]


def test_blackboard_latest_attempt_counts_and_is_late(released, tmp_path):
    report, record = collected(released, blackboard_download(), "blackboard", tmp_path,
                               due="2026-11-30T17:00")
    assert submitted(released) == ["bwayne", "j_nunez"]
    assert sources(report, "superseded") == ["Anchors_bwayne_attempt_2026-11-30-16-05-11_anchors.ipynb"]
    assert record["bwayne"]["late_minutes"] == 165 and record["bwayne"]["name"] == "Bruce Wayne"
    assert [(s, n) for s, n in report["late"]] == [
        ("Anchors_bwayne_attempt_2026-11-30-19-45-00_anchors.ipynb", "bwayne: 2h45m")]
    assert not record["j_nunez"]["late"]


def test_gradescope_sids_and_group_submissions(released, tmp_path):
    pytest.importorskip("yaml")
    report, record = collected(released, gradescope_download(), "gradescope", tmp_path,
                               roster=GRADESCOPE_ROSTER, due=DUE)
    assert submitted(released) == ["12345", "12346", "ada_uni_edu"]
    assert record["12346"]["late_minutes"] == 1515 and not record["12345"]["late"]
    assert sources(report, "unlisted") == ["assignment_4242_export/submission_99887767/Copy of anchors.ipynb"]
    assert sources(report, "unmatched") == ["assignment_4242_export/submission_99887768/anchors.ipynb"]


def test_one_student_one_id_in_every_assignment(released, tmp_path):
    """The LMS's ids differ per download (a new attachment id, a new Moodle participant id per
    assignment): the student id does not."""
    first = {"smithalice_123456_1000_anchors.ipynb": solved()}
    second = {"smithalice_LATE_123456_2000_Copy of anchors (1).ipynb": solved()}
    ids = [submitted(released) for members in (first, second)
           if collected(released, members, "canvas", tmp_path, roster=CANVAS_GRADEBOOK)]
    assert ids == [["asmith"], ["asmith"]]
    assert collecting.collect(write_zip(tmp_path / "moodle2.zip", {
        "Alice Smith_7654321_assignsubmission_file_/anchors.ipynb": solved()}),
        ASSIGNMENT, released, lms_name="moodle")["copied"][0][1].startswith("submitted/alice_smith/")


def test_hostile_names_in_an_lms_download(released, tmp_path, capsys):
    members = {"=HYPERLINK(1)_123_456_\x1b[31m.ipynb": solved(),
               "x_1_2_" + "é" * 300 + ".ipynb": solved(),
               "\u202e_LATE_9_9_a.ipynb": b"not json",
               "Participant_12_assignsubmission_file_/../../etc.ipynb": solved()}
    report = collecting.collect(write_zip(tmp_path / "h.zip", members), ASSIGNMENT, released,
                                lms_name="auto")
    assert {k: len(v) for k, v in report.items() if v} == {
        "copied": 2, "renamed": 1, "unmatched": 1, "unreadable": 1}
    assert submitted(released) == ["1", "123"]
    assert control_characters(capsys.readouterr().out) == []


def test_late_policy_and_the_flag_vocabulary():
    assert "late" in FLAG_NAMES
    policy = common.late_policy({"late_policy": {"per_day": "10", "grace_minutes": "15",
                                                 "maximum": 30}})
    assert [common.penalty_percent(m, policy) for m in (None, 0, 15, 16, 1455, 5000, 50000)] == \
        [0, 0, 0, 10, 10, 30, 30]
    with pytest.raises(SystemExit, match="per_day"):
        common.late_policy({"late_policy": {"per_day": "ten"}})
    assert common.delay_text(165) == "2h45m" and common.delay_text(1455) == "1d00h15m"
    assert common.minutes_late(datetime(2026, 11, 30, 17, 0, 1, tzinfo=timezone.utc),
                               common.parse_due(DUE)) == 1


@pytest.mark.parametrize("title, named", [("Anchors", True), ("01 Anchors", True),
                                          ("Assignment 1: anchors", True), ("Network", False),
                                          ("Anchors and boxes", False)])
def test_the_assignment_column_is_found_by_its_name(title, named):
    assert common.column_matches(title, ASSIGNMENT, ["anchors"]) is named


# --- export: the instructor's own gradebook, filled in place -----------------------------------
def filled(system, data, rows, tmp_path, record=None, **options):
    """(the upload file's bytes, the lines export prints) of ``rows`` ([student, total]) filled
    into the gradebook ``data``."""
    (tmp_path / "gradebook").write_bytes(data)
    lines = lms.fill_gradebook(system, tmp_path / "upload", rows, gradebook=tmp_path / "gradebook",
                               record={"students": record or {}}, assignment=ASSIGNMENT,
                               notebooks=["anchors"], possible=FULL, **options)
    return (tmp_path / "upload").read_bytes(), lines


CANVAS_ALICE = {"asmith": {"lms": "canvas", "key": "123456"}}


def test_canvas_gradebook_changes_in_its_assignment_cells_only(tmp_path):
    upload, lines = filled(canvas, CANVAS_GRADEBOOK, [["asmith", 19.5, ""], ["jdoe", 21.0, ""]],
                           tmp_path, CANVAS_ALICE)
    expected = CANVAS_GRADEBOOK.replace(b'"Smith, Alice",123456,S001,asmith,Section A,,25',
                                        b'"Smith, Alice",123456,S001,asmith,Section A,19.5,25')
    expected = expected.replace(b'"Doe, Jane",345678,S003,jdoe,Section B,,28',
                                b'"Doe, Jane",345678,S003,jdoe,Section B,21,28')
    assert upload == expected                              # BOM, CRLF, Points Possible row kept
    assert "2 students' totals -> column Anchors (5501)" in lines[0]
    assert lines[-1].startswith("2 students of the gradebook have no graded submission")
    rows = list(csv.reader(io.StringIO(upload.decode("utf-8-sig"))))
    assert rows[1][0] == "    Points Possible" and rows[1][5] == "21.00"
    assert formula_cells(upload.decode("utf-8-sig")) == []


def test_a_graded_student_missing_from_the_gradebook_refuses_the_export(tmp_path):
    rows = [["asmith", 21.0, ""], ["mallory", 21.0, ""], ["s002", 3.0, ""]]
    with pytest.raises(common.Refused) as refused:
        filled(canvas, CANVAS_GRADEBOOK, rows, tmp_path, CANVAS_ALICE)
    assert refused.value.lines == ["mallory: not in the gradebook"]
    assert not (tmp_path / "upload").exists()
    upload, lines = filled(canvas, CANVAS_GRADEBOOK, rows, tmp_path, CANVAS_ALICE,
                           leave_out_unlisted=True)                # s002: the SIS User ID
    assert "left out: mallory: not in the gradebook" in lines
    assert b"jnunez,Section A,3," in upload


def test_two_students_for_one_row_or_one_student_for_two_rows_are_refused(tmp_path):
    with pytest.raises(common.Refused) as refused:
        filled(canvas, CANVAS_GRADEBOOK, [["asmith", 1.0, ""], ["s001", 2.0, ""]], tmp_path,
               CANVAS_ALICE)
    assert sorted(refused.value.lines) == ["asmith: shares a gradebook row with s001",
                                           "s001: shares a gradebook row with asmith"]
    twice = CANVAS_GRADEBOOK + b'"Smith, Al",777,S009,asmith,Section C,,,\r\n'
    with pytest.raises(common.Refused) as refused:
        filled(canvas, twice, [["asmith", 1.0, ""]], tmp_path)
    assert refused.value.lines == ["asmith: matches 2 rows of the gradebook"]


def test_points_possible_must_agree_unless_scaled(tmp_path):
    other = CANVAS_GRADEBOOK.replace(b",,,,,21.00,", b",,,,,100,")
    with pytest.raises(common.Refused, match="worth 100 points, the assignment 21"):
        filled(canvas, other, [["asmith", 21.0, ""]], tmp_path, CANVAS_ALICE)
    upload, lines = filled(canvas, other, [["asmith", 10.5, ""]], tmp_path, CANVAS_ALICE,
                           scale=True)
    assert b"Section A,50,25" in upload and "scaled to 100 points" in lines[0]


def test_an_ungraded_submission_stays_empty_and_is_listed(tmp_path):
    upload, lines = filled(canvas, CANVAS_GRADEBOOK, [["asmith", None, ""]], tmp_path,
                           CANVAS_ALICE)
    assert upload == CANVAS_GRADEBOOK and any("not graded automatically" in l for l in lines)


def test_the_column_can_be_named(tmp_path):
    upload, _ = filled(canvas, CANVAS_GRADEBOOK, [["asmith", 7.0, ""]], tmp_path, CANVAS_ALICE,
                       column="5502", scale=True)
    assert b"Section A,,10,83.3" in upload                      # 7/21 of 30 points
    with pytest.raises(common.Refused, match="pass --column") as refused:
        filled(canvas, CANVAS_GRADEBOOK, [["asmith", 7.0, ""]], tmp_path, column="Quiz")
    assert refused.value.lines == ["Anchors (5501)", "Network (5502)"]


def test_moodle_worksheet_fills_grade(tmp_path):
    record = {"jose": {"lms": "moodle", "key": "1234568"}}
    upload, _ = filled(moodle, MOODLE_WORKSHEET, [["jose", 18.9, ""], ["alice_smith", 20.0, ""]],
                       tmp_path, record)
    rows = list(csv.DictReader(io.StringIO(upload.decode())))
    assert [(r["Identifier"], r["Grade"]) for r in rows] == [
        ("Participant 1234567", "20"), ("Participant 1234568", "18.9"), ("Participant 1234570", "")]
    original = list(csv.DictReader(io.StringIO(MOODLE_WORKSHEET.decode())))
    assert [{**r, "Grade": ""} for r in rows] == original       # the upload needs the rest as is


def test_blackboard_utf16_file_keeps_its_encoding_and_quotes(tmp_path):
    upload, _ = filled(blackboard, blackboard_gradebook(), [["bwayne", 18.0, ""]], tmp_path)
    assert upload.startswith(codecs.BOM_UTF16_LE)
    text = upload[2:].decode("utf-16-le")
    assert text == blackboard_gradebook()[2:].decode("utf-16-le").replace(
        '"Yes"\t""\t"27"', '"Yes"\t"18"\t"27"')


# --- the round trip: download -> collect -> grade -> export -> upload file, one grading run -----
TERM_DOWNLOADS = {
    "canvas": ({"smithalice_123456_7890123_anchors.ipynb": "wrong",          # superseded
                "smithalice_LATE_123456_7890199_anchors-1.ipynb": "solved"}, CANVAS_GRADEBOOK),
    "moodle": ({"José Núñez_1234568_assignsubmission_file_/Copy of anchors.ipynb": "solved"},
               MOODLE_WORKSHEET),
    "blackboard": ({k: v for k, v in blackboard_download().items() if "bwayne" in k}, None),
    "gradescope": ({k: v for k, v in gradescope_download().items() if "99887766" in k
                    or k.endswith(".yml")}, GRADESCOPE_ROSTER),
}
# student -> (total exported, flags in the CSV)
TERM_EXPECTED = {"asmith": (FULL, "late:marked by Canvas"),
                 "jose_uni_edu": (18.9, "late:1h30m -10%"),                # 21 - 10%
                 "bwayne": (18.0, "late:2h45m -10%"),                      # 20 - 10%
                 "12345": (FULL, "")}
TERM_NAMES = {"asmith": ("Alice", "Smith", "123456"), "jose_uni_edu": ("José", "Núñez", "1234568"),
              "bwayne": ("Bruce", "Wayne", "bwayne"), "12345": ("Grace", "Hopper", "12345")}


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """A released course with a late policy; the four LMS downloads collected (Blackboard's
    gradebook as its roster), graded in ONE run (4 notebooks), then exported to each LMS's
    gradebook and zipped as feedback for each."""
    folder = tmp_path_factory.mktemp("lms-term")
    course = make_course(folder, [ASSIGNMENT])
    (course / "course.toml").write_text('[late_policy]\nper_day = "10"   # percent a day\n')
    opts = ["--assignment", ASSIGNMENT, "--course", str(course)]
    status, files = {}, {}
    for name, (members, roster) in TERM_DOWNLOADS.items():
        data = {k: solved() if v == "solved" else wrong() if v == "wrong" else v
                for k, v in members.items()}
        download = write_zip(folder / f"{name}.zip", data)
        roster_path = folder / f"{name}-gradebook"
        roster_path.write_bytes(roster or blackboard_gradebook())
        files[name] = roster_path
        status[f"collect {name}"] = commands.instructor(
            ["collect", str(download), *opts, "--lms", "auto", "--roster", str(roster_path),
             "--due", "2026-11-30T17:00" if name != "gradescope" else DUE])
    with fast_environment(course):
        status["grade"] = commands.instructor(["grade", *opts, "--timeout", "60"])
    status["csv"] = commands.instructor(["export", *opts, "--csv", str(folder / "grades.csv")])
    for name in TERM_DOWNLOADS:
        upload = folder / f"{name}-upload"
        status[f"strict {name}"] = commands.instructor(
            ["export", *opts, "--lms", name, "--gradebook", str(files[name]), "--out", str(upload)])
        status[f"export {name}"] = commands.instructor(
            ["export", *opts, "--lms", "auto" if name == "moodle" else name, "--gradebook",
             str(files[name]), "--out", str(upload), "--leave-out-unlisted"])
        status[f"feedback {name}"] = commands.instructor(
            ["feedback", *opts, "--lms", name, "--out", str(folder / f"{name}-feedback.zip")])
    return {"course": course, "folder": folder, "status": status, "gradebooks": files}


def test_term_runs_every_step(term):
    assert {k: v for k, v in term["status"].items() if not k.startswith(("strict", "feedback"))} \
        == {"collect canvas": 0, "collect moodle": 0, "collect blackboard": 0,
            "collect gradescope": 0, "grade": 0, "csv": 0, "export canvas": 0,
            "export moodle": 0, "export blackboard": 0, "export gradescope": 1}
    assert sorted(p.name for p in (term["course"] / "submitted").iterdir()) == sorted(TERM_EXPECTED)


def test_term_csv_has_penalised_totals_and_late_flags(term):
    with open(term["folder"] / "grades.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert {s: (float(r["total"]), r["flags"]) for s, r in rows.items()} == TERM_EXPECTED
    assert float(rows["bwayne"]["test_refinement"]) == 0 and float(rows["asmith"]["test_refinement"]) == 1


def test_term_roster_names_are_in_nbgraders_gradebook(term):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{term['course'] / 'gradebook.db'}") as gradebook:
        found = {s.id: (s.first_name, s.last_name, s.lms_user_id) for s in gradebook.students}
    assert found == TERM_NAMES


def test_term_strict_exports_refuse_and_name_the_other_lms_students(term, capsys):
    assert term["status"]["strict canvas"] == term["status"]["strict moodle"] == 1
    assert not (term["folder"] / "gradescope-upload").exists()
    course, folder = term["course"], term["folder"]
    code = commands.instructor(["export", "--assignment", ASSIGNMENT, "--course", str(course),
                                "--lms", "moodle", "--gradebook", str(term["gradebooks"]["moodle"]),
                                "--out", str(folder / "refused")])
    err = capsys.readouterr().err
    assert code == 1 and not (folder / "refused").exists()
    assert "3 graded students cannot be placed" in err
    for student in ("12345", "asmith", "bwayne"):
        assert f"{student}: not in the gradebook" in err


def test_term_canvas_upload(term):
    upload = (term["folder"] / "canvas-upload").read_bytes()
    assert upload == CANVAS_GRADEBOOK.replace(b"asmith,Section A,,25", b"asmith,Section A,21,25")
    rows = list(csv.DictReader(io.StringIO(upload.decode("utf-8-sig"))))
    assert rows[1]["Anchors (5501)"] == "21" and rows[1]["ID"] == "123456"   # matched by ID


def test_term_moodle_upload(term):
    upload = (term["folder"] / "moodle-upload").read_bytes()
    rows = list(csv.DictReader(io.StringIO(upload.decode())))
    assert {"Identifier", "Grade", "Last modified (grade)"} <= set(rows[0])   # what the import reads
    assert [(r["Identifier"], r["Grade"]) for r in rows] == [
        ("Participant 1234567", ""), ("Participant 1234568", "18.9"), ("Participant 1234570", "")]
    assert upload == MOODLE_WORKSHEET.replace(b"Submitted for grading,,21.00,Yes,\"Monday, 30 November 2026, 6:30",
                                              b"Submitted for grading,18.9,21.00,Yes,\"Monday, 30 November 2026, 6:30")


def test_term_blackboard_upload(term):
    upload = (term["folder"] / "blackboard-upload").read_bytes()
    original = blackboard_gradebook()
    assert upload[:2] == original[:2] == codecs.BOM_UTF16_LE
    rows = list(csv.reader(io.StringIO(upload[2:].decode("utf-16-le")), delimiter="\t"))
    before = list(csv.reader(io.StringIO(original[2:].decode("utf-16-le")), delimiter="\t"))
    assert rows[1][6] == "18" and rows[1][:6] + rows[1][7:] == before[1][:6] + before[1][7:]
    assert rows[:1] + rows[2:] == before[:1] + before[2:]


def test_term_gradescope_takes_no_grade_file(term, capsys):
    assert commands.instructor(["export", "--assignment", ASSIGNMENT, "--course", str(term["course"]),
                                "--lms", "gradescope", "--out", str(term["folder"] / "gs")]) == 1
    assert "Gradescope takes no grade file" in capsys.readouterr().err


@pytest.mark.parametrize("name, pages", [
    ("moodle", ["José Núñez_1234568_assignsubmission_file_/anchors.html"]),
    ("canvas", ["smithalice_LATE_123456_7890199_anchors.html"]),
    ("blackboard", ["bwayne/anchors.html"]), ("gradescope", ["12345/anchors.html"])])
def test_term_feedback_zips(term, name, pages):
    assert term["status"][f"feedback {name}"] == 1                 # the other LMSs' students listed
    with zipfile.ZipFile(term["folder"] / f"{name}-feedback.zip") as archive:
        assert archive.namelist() == pages
        page = archive.read(pages[0]).decode()
    assert "<script" not in page and "test_refinement" in page
    if name == "moodle":               # the feedback import reads the participant id like this
        assert pages[0].split("/")[0].split("_", 4)[1] == "1234568"
