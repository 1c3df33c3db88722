"""The course website (docs/site/, ``python3 run.py site``): it builds offline without running a
notebook, every figure has alt text, every internal link resolves, the overview's numbers are the
notebooks', the student edition opens the published repository in Colab; and, where Debian's
chromium is installed, every page opens in a real browser without an error, on a phone's width."""

import json
import re
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from scripts import ROOT, load_script

# Sphinx's notices to the theme and myst's authors about Sphinx 11, not about this site
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
site_build = load_script("docs/site/build.py", "site_build")
browser = load_script("docs/site/browser.py", "site_browser")


def image_outputs(path):
    nb = json.loads(Path(path).read_text())
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The self-study edition, built once for this module (about 20 s on 2 cores)."""
    folder = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    notes = site_build.build("self-study", folder / "html", work=folder / "work")
    return {"out": folder / "html", "work": folder / "work", "notes": notes,
            "seconds": time.perf_counter() - start}


def test_the_site_builds_offline_from_the_saved_notebooks(site):
    out = site["out"]
    for assignment, path in site_build.notebooks("self-study"):
        page = out / assignment / f"{Path(path).stem}.html"
        html = page.read_text()
        # the figures of the executed solution, as saved: nothing was executed
        figures = html.count('<img alt="') - html.count('alt="Colab logo"')
        assert figures == image_outputs(ROOT / path)
        assert "with its solutions" in html                        # the self-study note
    assert (out / "index.html").exists() and (out / "search.html").exists()
    assert (out / "api" / "boxloc.bounding_box.html").exists()
    assert (out / ".nojekyll").exists()
    assert not (ROOT / "jupyter_execute").exists()
    print(f"site built in {site['seconds']:.1f} s")


def test_every_image_has_alt_text_and_every_internal_link_resolves(site):
    assert site_build.check_site(site["out"]) == []


def test_every_figure_has_its_own_alt_text():
    """alt-text.toml describes every figure of the solutions, and no figure that is gone."""
    texts = site_build.load_alt_texts()
    used = set()
    for assignment, path in site_build.notebooks("self-study"):
        nb = site_build.nbformat.read(ROOT / path, as_version=4)
        assert site_build.add_alt_text(nb, assignment, texts) == []
        for cell in nb.cells:
            used |= {(assignment, s) for s in texts.get(assignment, {}) if s in cell.source}
    unused = {(a, s) for a, entries in texts.items() for s in entries} - used
    assert not unused, f"entries of docs/site/alt-text.toml that match no figure: {unused}"


def test_the_checks_find_what_a_reader_would_trip_on(tmp_path):
    (tmp_path / "objects.inv").write_text("")
    (tmp_path / "a.html").write_text(
        '<p id="here"></p><img src="x.png"><img src="y.png" alt="y.png"><img src="x.png" alt="ok">'
        '<a href="b.html">b</a><a href="a.html#nowhere">.</a><a href="#here">.</a>'
        '<a href="https://example.org/">out</a>'
        '<script src="https://cdn.example.org/x.js"></script>')
    for name in ("x.png", "y.png"):
        (tmp_path / name).write_bytes(b"")
    problems = site_build.check_site(tmp_path)
    assert len(problems) == 5, problems
    assert sum("has no alt text" in p for p in problems) == 2
    assert any("b.html points at a missing file" in p for p in problems)
    assert any("#nowhere points at a missing anchor" in p for p in problems)
    assert any("loads https://cdn.example.org/x.js from another host" in p for p in problems)


def test_the_overview_numbers_are_the_notebooks(site):
    html = (site["out"] / "course.html").read_text().split("<article", 1)[1]   # not the sidebar
    for assignment, path in site_build.notebooks("student"):
        nb = json.loads((ROOT / path).read_text())
        points = sum(c["metadata"].get("nbgrader", {}).get("points", 0) for c in nb["cells"]
                     if c["metadata"].get("nbgrader", {}).get("grade"))
        intro = "".join(nb["cells"][0]["source"])
        time_text = re.search(r"\*\*Time:\*\* ([^.]+)\.", intro)
        assert time_text, f"{path}: its first cell no longer says '**Time:** ...'"
        section = html.split(intro.splitlines()[0].lstrip("# "), 1)[1].split("<h2", 1)[0]
        assert f"<strong>Points:</strong> {points}," in section
        assert " ".join(time_text[1].split()) in section


def test_the_student_edition_opens_the_published_repository_in_colab(tmp_path):
    where = site_build._publication().settings(ROOT)
    site_build.stage("student", tmp_path)
    assert json.loads((tmp_path / "site.json").read_text())["notebooks"] == "course/release"
    course = (tmp_path / "course.md").read_text()
    for assignment, path in site_build.notebooks("student"):
        staged = site_build.nbformat.read(tmp_path / assignment / Path(path).name, as_version=4)
        link = (f"https://colab.research.google.com/github/{where['repository']}/blob/"
                f"{where['branch']}/{path}")
        assert link in staged.cells[1].source and link in course      # under the title
        assert not any(c.get("outputs") for c in staged.cells if c.cell_type == "code")
        assert "### BEGIN SOLUTION" not in json.dumps(staged)


def test_run_py_installs_the_site_tools_when_their_file_changes(tmp_path, monkeypatch):
    run_script = load_script("run.py", "run_script")
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").touch()
    site_requirements = tmp_path / "requirements-site.txt"
    site_requirements.write_text("sphinx>=8.1\n")
    installs = []
    monkeypatch.setattr(run_script, "VENV", tmp_path / "venv")
    monkeypatch.setattr(run_script, "SITE_REQUIREMENTS", site_requirements)
    monkeypatch.setattr(run_script.subprocess, "run", lambda args, check: installs.append(args))
    run_script.ensure_venv()
    assert len(installs) == 2 and installs[1][-1] == str(site_requirements)
    run_script.ensure_venv()
    assert len(installs) == 2                                      # stamps: nothing changed
    site_requirements.write_text("sphinx>=8.1\nmyst-nb>=1.2\n")
    run_script.ensure_venv()
    assert len(installs) == 3 and installs[2][-1] == str(site_requirements)


@pytest.mark.browser
@pytest.mark.skipif(browser.chromium_path() is None,
                    reason="no chromium on PATH: apt-get install chromium to run the browser test")
def test_every_page_opens_in_chromium_on_a_phone(site):
    """Every page at a phone's width (390 px): no console error, failed load or exception, every
    image loaded, no sideways scrolling, every same-site link to a page that exists (and to an
    id on it); the search page finds "anchor"."""
    out = site["out"]
    pages = [p.relative_to(out).as_posix() for p in site_build.site_pages(out)]
    problems, seen, links = [], {}, set()
    with browser.serve(out) as base, browser.Chromium(browser.PHONE) as chromium:
        for page in pages:
            report = chromium.visit(base + page)
            seen[base + page] = set(report["ids"])
            links |= {link for link in report["links"] if link.startswith(base)}
            problems += [f"{page}: {error}" for error in report["errors"]]
            problems += [f"{page}: image {i['src']} did not load" for i in report["images"]
                         if not i["loaded"]]
            if report["overflow"] > 0:
                problems.append(f"{page}: {report['overflow']} px wider than a phone's screen")
        chromium.visit(base + "search.html?q=anchor")
        hits = chromium.poll(browser.SEARCH_HITS)
    for link in sorted(links):
        url, _, fragment = link.partition("#")
        target = url.split("?")[0]
        target = target + "index.html" if target.endswith("/") else target
        if target not in seen and not (out / target[len(base):]).exists():
            problems.append(f"link to a missing page: {link}")
        elif fragment and target in seen and unquote(fragment) not in seen[target]:
            problems.append(f"link to a missing id: {link}")
    assert len(pages) > 10
    assert problems == []
    assert hits and hits >= 5, "the search page found nothing for 'anchor'"
