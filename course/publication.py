"""The one setting of where the course is published (``course/course.toml``) and every place
that repeats it: the install cell of each source notebook (``BOXLOC_PIP``'s default) and the
README's Open-in-Colab links. Release notebooks and solutions are generated from the sources, so
they follow. ``instructor.ipynb`` is not one of them: for a graded class the published repository
is the student edition, which holds no grader, so that notebook asks for the private course.

``apply(root)`` rewrites those places from the setting; ``mismatches(root)`` lists the files that
disagree with it (``manage.py generate`` / ``check``).
"""

import re
from pathlib import Path

import nbformat

PIP_DEFAULT = re.compile(r'(BOXLOC_PIP = os\.environ\.get\("BOXLOC_PIP", ")([^"]*)("\))')
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w./-]+?"
                        r"/(course/release/[\w./-]+\.ipynb)")
OWNER_NAME = re.compile(r"^[\w.-]+/[\w.-]+$")


def settings(root):
    """{'repository': 'owner/name', 'branch': ...} from ``course/course.toml``, checked."""
    path = Path(root) / "course" / "course.toml"
    text = path.read_text()
    try:
        import tomllib
        values = tomllib.loads(text).get("publish", {})
    except ImportError:                       # Python 3.10: the two plain string keys
        values = dict(re.findall(r'^\s*(\w+)\s*=\s*"([^"]*)"', text, re.MULTILINE))
    repository, branch = values.get("repository", ""), values.get("branch", "main")
    if not OWNER_NAME.match(repository):
        raise SystemExit(f"{path}: [publish] repository must be a GitHub owner/name such as "
                         f"'my-university/boxloc', got {repository!r}")
    if not re.fullmatch(r"[\w./-]+", branch):
        raise SystemExit(f"{path}: [publish] branch {branch!r} is not a branch name")
    return {"repository": repository, "branch": branch}


def pip_spec(s):
    return f"git+https://github.com/{s['repository']}@{s['branch']}#subdirectory=lib"


def colab_link(s, notebook_path):
    return f"https://colab.research.google.com/github/{s['repository']}/blob/{s['branch']}/{notebook_path}"


def _rewrite(text, s):
    """``text`` with every published place set from the settings ``s``."""
    text = PIP_DEFAULT.sub(lambda m: m[1] + pip_spec(s) + m[3], text)
    return COLAB_LINK.sub(lambda m: colab_link(s, m[1]), text)


def _places(root):
    root = Path(root)
    return [*sorted((root / "course" / "source").rglob("*.ipynb")), root / "README.md"]


def _cells_text(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells]


def mismatches(root):
    """Files that repeat the publication setting with another value (release and solutions are
    compared with their sources by ``manage.py check``)."""
    s, stale = settings(root), []
    for path in _places(root):
        texts = _cells_text(path) if path.suffix == ".ipynb" else [path.read_text()]
        if any(_rewrite(t, s) != t for t in texts):
            stale.append(str(path.relative_to(root)))
    return stale


def apply(root):
    """Write the setting into every place; returns the files changed."""
    s, changed = settings(root), []
    for path in _places(root):
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            new = [_rewrite(c.source, s) for c in nb.cells]
            if new != [c.source for c in nb.cells]:
                for cell, source in zip(nb.cells, new):
                    cell.source = source
                nbformat.write(nb, path)
                changed.append(path)
        else:
            text = path.read_text()
            if _rewrite(text, s) != text:
                path.write_text(_rewrite(text, s))
                changed.append(path)
    return changed
