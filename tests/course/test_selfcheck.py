"""The self-check cell students run before handing in (``boxloc.selfcheck``): it passes on the
executed solutions and names each problem the grader would have to repair."""

import copy
import json

import nbformat
import pytest

from boxloc import selfcheck
from classroom import handin
from course_helpers import COURSE, ROOT

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
    from classroom.repairs import repair
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
    shutil.copy(COURSE / "course.toml", root / "course")
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


# --- on Colab: the file name from the sessions API; cells that ended in an error ---------------
import http.server
import sys
import threading
import time
import types

KERNEL_ID = "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"


def _colab_session(name, kernel_id, file_id="1AbCdEf"):
    """One entry of Colab's ``/api/sessions`` reply: the Jupyter server's session model with
    the Drive file's name as ``name`` and a ``fileId=`` path."""
    return {"id": f"session-{kernel_id[:4]}", "path": f"fileId={file_id}", "name": name,
            "type": "notebook", "notebook": {"path": f"fileId={file_id}", "name": name},
            "kernel": {"id": kernel_id, "name": "python3", "execution_state": "busy",
                       "connections": 1, "last_activity": "2026-08-01T23:00:00.000000Z"}}


@pytest.fixture
def sessions_server(monkeypatch):
    """A local HTTP server answering ``GET /api/sessions`` as Colab's Jupyter server does,
    pointed at by COLAB_JUPYTER_IP and KMP_TARGET_PORT. Set ``.reply`` to ``(status, content
    type, body)``, or to ``'hang'`` (accept, never answer)."""
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):                                     # noqa: N802 (http.server's name)
            server.requests.append(self.path)
            if server.reply == "hang":
                release.wait(30)
                return
            status, kind, body = server.reply
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads, server.block_on_close = True, False
    server.reply, server.requests = (200, "application/json", b"[]"), []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("COLAB_JUPYTER_IP", "127.0.0.1")
    monkeypatch.setenv("KMP_TARGET_PORT", str(server.server_address[1]))
    monkeypatch.delenv("COLAB_JUPYTER_TOKEN", raising=False)
    yield server
    release.set()
    server.shutdown()
    server.server_close()


def _serve_sessions(server, *sessions):
    server.reply = (200, "application/json", json.dumps(list(sessions)).encode())


@pytest.fixture
def colab(monkeypatch, anchors):
    """A fake ``google.colab`` whose ``_message.blocking_request('get_ipynb')`` returns the
    notebook in ``colab.notebook``: the executed anchors solution without ``metadata.colab``
    (as Colab sends it since 2023)."""
    state = types.SimpleNamespace(notebook=copy.deepcopy(anchors), requests=[])
    state.notebook["metadata"].pop("colab", None)

    def blocking_request(kind, request="", timeout_sec=5):
        state.requests.append(kind)
        return {"ipynb": state.notebook}

    message = types.ModuleType("google.colab._message")
    message.blocking_request = blocking_request
    package = types.ModuleType("google.colab")
    package._message = message
    monkeypatch.setitem(sys.modules, "google.colab", package)
    monkeypatch.setitem(sys.modules, "google.colab._message", message)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return state


def _in_kernel(monkeypatch, kernel_id=KERNEL_ID):
    """As if this ran in the Colab kernel whose connection file is kernel-<id>.json."""
    import ipykernel.connect
    monkeypatch.setattr(ipykernel.connect, "get_connection_file",
                        lambda *args, **kwargs: f"/root/.local/share/jupyter/runtime/kernel-{kernel_id}.json")


def test_on_colab_the_file_name_comes_from_the_sessions_api(colab, sessions_server, monkeypatch, capsys):
    _in_kernel(monkeypatch)
    namespace = _answers_namespace(colab.notebook)
    _serve_sessions(sessions_server, _colab_session("anchors - Alice Smith.ipynb", KERNEL_ID))
    assert selfcheck.self_check(namespace) == []
    printed = capsys.readouterr().out
    assert "Checked Colab" in printed and "student id 'alice_smith'" in printed
    assert "Ready to hand in." in printed and colab.requests == ["get_ipynb"]
    assert sessions_server.requests == ["/api/sessions"]

    _serve_sessions(sessions_server, _colab_session("Copy of anchors.ipynb", KERNEL_ID))
    assert _flags(selfcheck.self_check(namespace)) == {("file_name", None)}
    printed = capsys.readouterr().out
    assert "'Copy of anchors.ipynb' holds no student id" in printed
    assert "Ready to hand in." not in printed

    _serve_sessions(sessions_server, _colab_session("anchors%20-%20bob%2042.ipynb", KERNEL_ID))
    assert selfcheck.self_check(namespace) == []            # URL-encoded, as some clients see it
    assert "student id 'bob_42'" in capsys.readouterr().out


def test_of_two_sessions_the_one_of_this_kernel_is_read(sessions_server, monkeypatch):
    other = _colab_session("network - carol.ipynb", "99999999-0000-0000-0000-000000000000", "2Zz")
    _serve_sessions(sessions_server, other, _colab_session("anchors - dave.ipynb", KERNEL_ID))
    _in_kernel(monkeypatch)
    assert selfcheck.colab_file_name() == "anchors - dave.ipynb"
    _in_kernel(monkeypatch, "11111111-2222-3333-4444-555555555555")   # neither: no guess
    assert selfcheck.colab_file_name() is None
    _serve_sessions(sessions_server, _colab_session("anchors - dave.ipynb", KERNEL_ID))
    assert selfcheck.colab_file_name() == "anchors - dave.ipynb"       # the only session
    monkeypatch.delenv("KMP_TARGET_PORT")                    # not in Colab: nothing is asked
    assert selfcheck.colab_file_name() is None and len(sessions_server.requests) == 3


@pytest.mark.parametrize("reply", [
    (500, "text/plain", b"Internal Server Error"),
    (200, "text/html", b"<html><body>Jupyter</body></html>"),
    (200, "application/json", b'{"message": "Forbidden"}'),
    (200, "application/json", b'["not", "sessions"]'),
    (200, "application/json", b"\x00\xff garbage"),
    (404, "application/json", b"[]"),
    "hang",
], ids=["500", "html", "object", "strings", "garbage", "404", "hang"])
def test_a_failing_sessions_api_falls_back_quickly(colab, sessions_server, monkeypatch, capsys, reply):
    sessions_server.reply = reply
    namespace = _answers_namespace(colab.notebook)
    start = time.monotonic()
    assert selfcheck.self_check(namespace) == []
    assert time.monotonic() - start < 3
    printed = capsys.readouterr().out
    assert "? file name unknown" in printed
    assert "rename it to 'anchors - <your student id>.ipynb'" in printed
    assert "Ready to hand in." in printed                    # an unknown name does not block
    colab.notebook["metadata"]["colab"] = {"name": "anchors - erin.ipynb"}   # an older Colab
    start = time.monotonic()
    assert selfcheck.self_check(namespace) == []
    assert time.monotonic() - start < 3
    assert "student id 'erin'" in capsys.readouterr().out


def test_no_server_at_the_address_falls_back_to_the_metadata(colab, monkeypatch, capsys):
    import socket
    with socket.socket() as probe:                           # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("COLAB_JUPYTER_IP", "127.0.0.1")
    monkeypatch.setenv("KMP_TARGET_PORT", str(port))
    colab.notebook["metadata"]["colab"] = {"name": "anchors - frank.ipynb"}
    assert selfcheck.self_check(_answers_namespace(colab.notebook)) == []
    assert "student id 'frank'" in capsys.readouterr().out


@pytest.mark.parametrize("sessions, kernel_id, name", [
    ([], KERNEL_ID, None),
    ({"sessions": []}, KERNEL_ID, None),
    (["a", 1, None], KERNEL_ID, None),
    ([{"kernel": "x", "name": "anchors - g.ipynb"}], KERNEL_ID, "anchors - g.ipynb"),
    ([{"kernel": {"id": KERNEL_ID}, "name": "", "path": "fileId=1x"}], KERNEL_ID, None),
    ([{"kernel": {"id": KERNEL_ID}, "path": "work/anchors - h.ipynb"}], KERNEL_ID, "anchors - h.ipynb"),
    ([{"kernel": {"id": KERNEL_ID}, "notebook": {"name": "anchors - i.ipynb"}}], None, "anchors - i.ipynb"),
])
def test_the_session_reply_is_read_defensively(sessions, kernel_id, name):
    assert selfcheck._session_file_name(sessions, kernel_id) == name


def _error_output(ename="NameError", evalue="name 'x' is not defined"):
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def test_cells_that_ended_in_an_error_are_named_and_not_ready(anchors, capsys):
    nb = copy.deepcopy(anchors)
    code = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
            and selfcheck.grade_id(c) != "self_check"]
    first, second = code[2], code[-1]
    nb["cells"][first]["outputs"].append(_error_output())
    nb["cells"][second]["outputs"] = [_error_output("AssertionError", "wrong")]
    nb["cells"][_index(nb, "self_check")]["outputs"] = [_error_output()]   # its own: not counted
    findings = selfcheck.self_check(_answers_namespace(nb), nb, _file(nb))
    assert _flags(findings) == {("error", f"cell {first + 1}"), ("error", f"cell {second + 1}")}
    printed = capsys.readouterr().out
    source = "".join(nb["cells"][second]["source"])
    line = next(line.strip() for line in source.splitlines() if line.strip())
    assert f"✗ cell {second + 1}: ended in AssertionError: `{line[:57]}" in printed
    assert "✗ 2 cells ended in an error" in printed
    assert "2 cells ended in an error: run all (Runtime > Run all) and fix them before you hand in." in printed
    assert "Ready to hand in." not in printed and "Fix the ✗ lines" not in printed

    nb["cells"][first]["outputs"] = []
    selfcheck.self_check(_answers_namespace(nb), nb, _file(nb))
    assert "1 cell ended in an error: run all (Runtime > Run all) and fix it" in capsys.readouterr().out


def test_cells_in_error_are_read_from_the_live_colab_notebook(colab, sessions_server, monkeypatch, capsys):
    _in_kernel(monkeypatch)
    _serve_sessions(sessions_server, _colab_session("anchors - alice.ipynb", KERNEL_ID))
    cell = next(c for c in colab.notebook["cells"] if c["cell_type"] == "code" and c["outputs"])
    cell["outputs"].append(_error_output("ZeroDivisionError", "division by zero"))
    findings = selfcheck.self_check(_answers_namespace(colab.notebook))
    assert [f["flag"] for f in findings] == ["error"]
    printed = capsys.readouterr().out
    assert "ended in ZeroDivisionError" in printed and "Ready to hand in." not in printed
