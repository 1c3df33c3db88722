#!/usr/bin/env python3
"""Build the course website: ``python3 run.py site [--edition student] [--out DIR]``.

Sphinx with myst-nb renders the notebooks as they are saved (none is executed) with
sphinx-book-theme, offline. Two editions, as the course has two publications (README "Two
publications"):

* ``self-study`` (default): the executed solution notebooks of ``solutions/``, with their figures;
* ``student``: the release notebooks of ``course/release/`` (no solutions, no outputs), what
  ``course/manage.py publish`` puts in the student repository.

Both have a front page, the course overview (read from the notebooks: goal, time, points, the
graded exercises), the library guide (sections of the README, included, not copied) and the API
reference (autodoc over ``boxloc``). Every notebook page has "Open in Colab" links to the
repository set in ``course/course.toml`` [publish].

The build copies ``docs/site/`` into ``build/site/<edition>/src/``, adds the notebooks there
(each figure with its alt text from ``docs/site/alt-text.toml``) and the generated pages, runs
Sphinx and checks the result (``check_site``: alt text, internal links, nothing loaded from
another host).
"""

import argparse
import html.parser
import json
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

try:
    import tomllib
except ImportError:                          # Python 3.10: Sphinx brings tomli there
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EDITIONS = {"self-study": "solutions", "student": "course/release"}   # where the notebooks are
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# ---- what the notebooks say about themselves -------------------------------------------------

def _publication():
    """The course tools' ``publication`` module (read only): the [publish] setting and the
    Colab links."""
    if str(ROOT / "course") not in sys.path:
        sys.path.insert(0, str(ROOT / "course"))     # the course tools: course/classroom
    from classroom import publication
    return publication


def notebooks(edition):
    """[(assignment, path relative to the repository)] of an edition, in course order."""
    folder = ROOT / EDITIONS[edition]
    return [(path.parent.name, path.relative_to(ROOT).as_posix())
            for path in sorted(folder.glob("*/*.ipynb"))]


def _sentence_after(label, text):
    """The text after ``**label:**`` up to the end of its sentence (``**Time:** about 70
    minutes.`` -> ``about 70 minutes``)."""
    match = re.search(rf"\*\*{label}:\*\*\s*(.+?)\.(?:\s|$)", text, re.S)
    return " ".join(match[1].split()) if match else ""


def notebook_facts(nb):
    """What the overview says about a notebook, all read from it: its title, goal, time, where
    it runs, and the graded exercises ("Your turn" headings) with the points of their test
    cells."""
    intro = nb.cells[0].source
    title = intro.splitlines()[0].lstrip("# ").strip()
    goal = re.search(r"\*\*Goal\.\*\*\s*(.+?)(?:\n\n|$)", intro, re.S)
    exercises, heading = [], None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("# ").strip()
                    if heading.startswith("Your turn:"):
                        exercises.append([heading.removeprefix("Your turn:").strip(), 0])
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade") and exercises and heading.startswith("Your turn:"):
            exercises[-1][1] += grading.get("points", 0)
    points = sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("grade"))
    return {"title": title, "goal": " ".join(goal[1].split()) if goal else "",
            "time": _sentence_after("Time", intro), "runs_on": _sentence_after("Runs on", intro),
            "points": points, "exercises": exercises}


# ---- alt text ---------------------------------------------------------------------------------

def load_alt_texts(path=HERE / "alt-text.toml"):
    """{assignment: {code snippet: alt text}}: a figure's alt text is the entry whose snippet
    occurs in the code of the cell that drew it."""
    return tomllib.loads(path.read_text())


def _fallback_alt(previous_markdown):
    """The first sentence of the markdown before a figure, without markup: better than none."""
    text = re.sub(r"[#*`]|\[([^\]]*)\]\([^)]*\)", r"\1", previous_markdown)
    sentence = re.split(r"(?<=[.:!?])\s", " ".join(text.split()), maxsplit=1)[0]
    return f"Figure: {sentence}".rstrip(":")


def add_alt_text(nb, assignment, texts):
    """Give every image output of ``nb`` an alt text (myst-nb reads it from the cell's
    ``mystnb.image.alt`` metadata). Returns the notes for figures that had to fall back to the
    markdown before them (no entry in ``alt-text.toml``)."""
    entries, notes, previous = texts.get(assignment, {}), [], ""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            previous = cell.source
            continue
        kinds = [kind for output in cell.get("outputs", []) for kind in output.get("data", {})]
        if not any(kind.startswith("image/") for kind in kinds):
            continue
        matches = [alt for snippet, alt in entries.items() if snippet in cell.source]
        if len(matches) > 1:
            raise SystemExit(f"alt-text.toml: {len(matches)} entries match cell {index} of "
                             f"{assignment}: make the snippets longer")
        if not matches:
            notes.append(f"{assignment} cell {index}: no entry in docs/site/alt-text.toml, alt "
                         f"text taken from the markdown before it")
        alt = " ".join((matches[0] if matches else _fallback_alt(previous)).split())
        cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
    return notes


def drop_widget_views(nb):
    """Widget outputs keep their text/plain form: their views need JavaScript from a CDN."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)


# ---- the generated pages ----------------------------------------------------------------------

def colab_note(edition, assignment, path, where, colab_link):
    """The markdown cell put under a notebook's title: where to run it."""
    release = next(p for a, p in notebooks("student") if a == assignment)
    if edition == "student":
        return (f":::{{tip}}\n[Open in Colab]({colab_link(where, release)}){{.colab-button}} to "
                f"work on this notebook: save a copy in Drive first (*Before you start* "
                f"below).\n:::")
    return (f":::{{tip}}\nThis page is the notebook **with its solutions**, as executed in the "
            f"course's fast configuration (short training). Try the exercises yourself first: "
            f"[Open the exercise in Colab]({colab_link(where, release)}){{.colab-button}} "
            f"then compare with this page, or [open this solution in Colab]"
            f"({colab_link(where, path)}).\n:::")


def overview_pages(edition, facts, where, colab_link):
    """(course.md, the front page's list of assignments) in markdown."""
    page = ["# Course overview", "",
            f"{len(facts)} notebooks that build one detector, from anchors to evaluation; each "
            "ends with a summary of what you learned and a self-check. Times and points are "
            "the notebooks' own."]
    items = []
    for (assignment, path), fact in zip(notebooks(edition), facts):
        release = next(p for a, p in notebooks("student") if a == assignment)
        doc = f"{assignment}/{Path(path).name}"
        graded = "; ".join(f"{name} ({points} {'point' if points == 1 else 'points'})"
                           for name, points in fact["exercises"])
        page += ["", f"## [{fact['title']}]({doc})", "", fact["goal"], "",
                 f"- **Time:** {fact['time']}", f"- **Runs on:** {fact['runs_on']}",
                 f"- **Points:** {fact['points']}, for these exercises: {graded}", "",
                 f"[Read the notebook]({doc}) · [Open in Colab]({colab_link(where, release)})"]
        items.append(f"- [{fact['title']}]({doc}): {fact['time']}, {fact['points']} points")
    page += ["", "```{toctree}", ":hidden:", "",
             *[f"{a}/{Path(p).stem}" for a, p in notebooks(edition)], "```", ""]
    return "\n".join(page), "\n".join(items) + "\n"


def stage(edition, dest):
    """Lay out the Sphinx source of ``edition`` in ``dest``; returns the alt-text notes."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(HERE, dest, ignore=shutil.ignore_patterns(
        "build.py", "browser.py", "alt-text.toml", "__pycache__"))
    fragments = dest / "_fragments"
    fragments.mkdir()
    shutil.copy(ROOT / "README.md", fragments / "README.md")        # included by guide.md
    shutil.copytree(ROOT / "docs" / "images", fragments / "docs" / "images")
    publication = _publication()
    where = publication.settings(ROOT)
    texts, notes, facts = load_alt_texts(), [], []
    for assignment, path in notebooks(edition):
        nb = nbformat.read(ROOT / path, as_version=4)
        facts.append(notebook_facts(nb))
        notes += add_alt_text(nb, assignment, texts)
        drop_widget_views(nb)
        title, _, intro = nb.cells[0].source.partition("\n")        # the note under the title
        nb.cells[0].source = intro.strip()
        nb.cells[0:0] = [nbformat.v4.new_markdown_cell(title), nbformat.v4.new_markdown_cell(
            colab_note(edition, assignment, path, where, publication.colab_link))]
        (dest / assignment).mkdir()
        nbformat.write(nb, dest / assignment / Path(path).name)
    course, assignments = overview_pages(edition, facts, where, publication.colab_link)
    (dest / "course.md").write_text(course)
    (fragments / "assignments.md").write_text(assignments)
    (dest / "site.json").write_text(json.dumps({
        "edition": edition, "notebooks": EDITIONS[edition], "lib": str(ROOT / "lib"), **where}))
    return notes


def build(edition="self-study", out=ROOT / "site", quiet=True, work=None):
    """Stage and build ``edition`` into ``out`` (emptied first) through the folder ``work``
    (default ``build/site/<edition>``); returns the alt-text notes. Sphinx warnings are errors."""
    from sphinx.cmd.build import build_main

    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not (out / "objects.inv").exists():
        raise SystemExit(f"{out} is neither empty nor a site built before: not emptying it")
    work = Path(work or ROOT / "build" / "site" / edition)   # myst-nb writes beside the html
    if work.exists():
        shutil.rmtree(work)
    notes = stage(edition, work / "src")
    args = ["-b", "html", "-W", "--keep-going", "-E", "-t", edition.replace("-", "_"),
            "-d", str(work / "doctrees"), str(work / "src"), str(work / "html")]
    if build_main((["-q"] if quiet else []) + args) != 0:
        raise SystemExit("sphinx-build failed (warnings count as errors): see above")
    (work / "html" / ".nojekyll").touch()     # GitHub Pages: serve _static/, _images/ as they are
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(work / "html", out)
    return notes


# ---- checks of the built site ----------------------------------------------------------------

class _Page(html.parser.HTMLParser):
    """The ids, links, images and loaded resources of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.images, self.resources = set(), [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs)
        if (tag in ("script", "img", "iframe") and attrs.get("src")) or (
                tag == "link" and attrs.get("href") and attrs.get("rel") != "canonical"):
            self.resources.append(attrs.get("src") or attrs.get("href"))


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def site_pages(out):
    """The HTML pages of a built site (not the theme's templates under _static/)."""
    return sorted(p for p in Path(out).resolve().rglob("*.html")
                  if "_static" not in p.relative_to(Path(out).resolve()).parts)


def check_site(out):
    """Problems of the built site ``out`` (an empty list when there are none): an image without
    a meaningful alt text (missing, empty, or its file name), an internal link or resource to a
    missing file or anchor, a page loading anything from another host."""
    out = Path(out).resolve()
    pages = {path: _parse(path) for path in site_pages(out)}
    problems = []
    for path, page in pages.items():
        name = path.relative_to(out).as_posix()
        for img in page.images:
            alt, src = (img.get("alt") or "").strip(), img.get("src", "")
            if not alt or alt in (src, Path(src).name, Path(src).stem):
                problems.append(f"{name}: image {src} has no alt text")
        for url in page.resources:
            if urlsplit(url).scheme in ("http", "https") or url.startswith("//"):
                problems.append(f"{name}: loads {url} from another host")
        for url in page.links + page.resources:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue                                            # http(s), mailto, javascript
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(out) or not target.exists():
                problems.append(f"{name}: link {url} points at a missing file")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{name}: link {url} points at a missing anchor")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=sorted(EDITIONS), default="self-study")
    parser.add_argument("--out", default=str(ROOT / "site"), help="the site's folder (emptied)")
    parser.add_argument("--verbose", action="store_true", help="Sphinx's progress messages")
    parser.add_argument("--screenshots", metavar="DIR",
                        help="then take the README's screenshots into DIR (needs chromium)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    notes = build(args.edition, Path(args.out), quiet=not args.verbose)
    for note in notes:
        print(f"note: {note}")
    problems = check_site(args.out)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    pages = len(site_pages(args.out))
    print(f"{args.edition} edition: {pages} pages in {args.out} "
          f"({time.perf_counter() - start:.0f} s), {len(problems)} problems")
    if args.screenshots and not problems:
        import browser                                   # docs/site/browser.py
        page = f"{notebooks(args.edition)[0][0]}/{Path(notebooks(args.edition)[0][1]).stem}.html"
        for path in browser.screenshots(Path(args.out), Path(args.screenshots), page):
            print(f"screenshot: {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
