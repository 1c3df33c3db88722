"""Sphinx configuration of the course website; ``build.py`` (``python3 run.py site``) copies this
folder into a staging folder, adds the notebooks and the generated pages, writes ``site.json``
(the edition and where it is published) beside this file and runs Sphinx there."""

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SITE = json.loads((HERE / "site.json").read_text())
sys.path.insert(0, SITE["lib"])          # document the checkout's library, not an installed one

project = "boxloc"
author = "the boxloc course"
copyright = "the boxloc course authors, MIT licence"
html_title = "Box localisation on brain MRI"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon"]
exclude_patterns = ["site.json", "_fragments", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# The notebooks are shown as they are saved: none is executed by the build.
nb_execution_mode = "off"
# Widget views need widget JavaScript from a CDN: show their text/plain form instead.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js = {}
myst_enable_extensions = ["attrs_inline", "colon_fence"]
myst_heading_anchors = 3                # the README's "#compatibility"-style links resolve

autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"
napoleon_numpy_docstring = False
napoleon_custom_sections = [("Return values", "params_style")]     # see named_returns
suppress_warnings = ["myst.header"]     # the notebooks' "### Before you start" under their title

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": f"https://github.com/{SITE['repository']}",
    "repository_branch": SITE["branch"],
    "path_to_docs": SITE["notebooks"],  # a notebook page's path = its path in the repository
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_navbar_depth": 2,
    "home_page_in_toc": True,
}
html_context = {"edition": SITE["edition"], "default_mode": "light"}   # figures are on white
html_favicon = "_static/favicon.svg"     # else browsers ask the server for /favicon.ico
html_last_updated_fmt = None


def named_returns(app, what, name, obj, options, lines):
    """A "Returns:" section that names each value (``boxes: float64 (M, 4) ...``, as "Args:"
    names arguments) becomes "Return values:", which napoleon reads as a list; napoleon reads
    "Returns:" as one value. Runs before napoleon."""
    for i, line in enumerate(lines):
        if line.strip() != "Returns:":
            continue
        depth = len(line) - len(line.lstrip())
        body = []
        for item in lines[i + 1:]:
            if item.strip() and len(item) - len(item.lstrip()) <= depth:
                break
            body.append(item)
        items = [b for b in body if b.strip()]
        indent = [len(b) - len(b.lstrip()) for b in items]
        top = [b for b, d in zip(items, indent) if d == min(indent, default=0)]
        if len(top) > 1 and all(re.match(r"\s*\w+: ", b) for b in top):
            lines[i] = line.replace("Returns:", "Return values:")


def setup(app):
    app.connect("autodoc-process-docstring", named_returns, priority=400)
