"""The course tools are one package, ``course/classroom``: imports run one way (down the list in
its ``__init__``), no module is loaded by file path, every path of a course folder and the one
reader of ``course.toml`` live in ``layout.py``."""

import ast
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import classroom
from classroom import layout
from classroom.layout import COURSE, CourseFolder, read_simple_toml

PACKAGE = Path(classroom.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path):
    """The classroom modules ``path`` imports (absolute or relative, any depth)."""
    tree, found = ast.parse(path.read_text()), set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}")
                found.add(base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("classroom.")}


def layer_of(name, layers):
    """The index of the top-level part (module or subpackage) of ``name`` in ``layers``."""
    top = name.split(".")[1]
    return layers.index(top) if top in layers else None


def documented_layers():
    """The package's modules in the order its docstring lists them (top first)."""
    return [m[1] for m in re.finditer(r"^    (\w+)(?:\.py|/)\s", classroom.__doc__, re.MULTILINE)]


def test_the_package_map_lists_every_module_and_subpackage():
    present = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    present |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert set(documented_layers()) == present


def test_imports_run_one_way_down_the_package_map():
    layers = documented_layers()
    wrong = []
    for path in MODULES:
        me = module_name(path)
        if me == "classroom":
            continue
        mine = layer_of(me, layers)
        for other in imported(path):
            theirs = layer_of(other, layers)
            if theirs is not None and theirs != mine and theirs < mine:
                wrong.append(f"{me} imports {other}, which is above it")
    assert wrong == []


def test_the_grader_imports_only_itself_and_the_layout():
    for path in (PACKAGE / "grader").rglob("*.py"):
        outside = {m for m in imported(path) if not m.startswith(("classroom.grader", "classroom.layout"))}
        assert outside == set(), f"{path.name} imports {outside}"


def mapped(package):
    """The files and folders a package's docstring map names (``name.py``, ``name.sh``,
    ``name/`` at the start of an indented line)."""
    return set(re.findall(r"^    ([\w-]+(?:\.py|\.sh|/))\s", package.__doc__, re.MULTILINE))


def test_the_grader_and_kernel_maps_list_every_file():
    from classroom import grader
    from classroom.grader import kernel
    for package in (grader, kernel):
        folder = Path(package.__file__).parent
        present = {p.name for p in folder.iterdir() if p.suffix in (".py", ".sh")} - {"__init__.py"}
        present |= {f"{p.name}/" for p in folder.iterdir() if (p / "__init__.py").exists()}
        assert mapped(package) == present, package.__name__


def test_the_kernel_side_needs_nothing_but_python_and_ipython():
    """The files sent into the student's kernel run there as files, loaded by path by
    kernel/startup.py (the one place that does, inside the sandbox): they import no module of
    the course and nothing but the standard library and IPython."""
    for path in sorted((PACKAGE / "grader" / "kernel").glob("*.py")):
        modules = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules.add("." if node.level else node.module.split(".")[0])
        assert modules <= set(sys.stdlib_module_names) | {"IPython"}, f"{path.name}: {modules}"


def test_no_course_file_loads_another_by_path_or_edits_the_import_path():
    offenders = []
    for path in sorted(COURSE.rglob("*.py")):
        text = path.read_text()
        loads_by_path = "spec_from_file_location" in text
        if loads_by_path and path != PACKAGE / "grader" / "spec.py":   # the hidden files: data
            offenders.append(f"{path.relative_to(COURSE)} loads a module by path")
        if re.search(r"sys\.path\.(insert|append)|sys\.path\s*\[", text):
            offenders.append(f"{path.relative_to(COURSE)} edits sys.path")
    assert offenders == []


def test_course_folder_names_and_the_settings_file_are_spelt_in_layout_only():
    names = ("source", "hidden", "release", "submitted", "repaired", "autograded", "reports",
             "feedback", "shards", "overrides")
    spelt = {}
    for path in MODULES:
        if path.name == "layout.py":
            continue
        for text in string_literals(path):
            if re.search(r"gradebook\.db|course\.toml|release-snapshot", text):
                spelt.setdefault(path.name, []).append(text)
        for text in joined_onto_paths(path):
            if text in names:
                spelt.setdefault(path.name, []).append(f"/ {text!r}")
        if "tomllib" in path.read_text():
            spelt.setdefault(path.name, []).append("tomllib")
    assert spelt == {}


def joined_onto_paths(path):
    """The string constants a module joins onto a path (``folder / "name"``)."""
    return [node.right.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
            and isinstance(node.right, ast.Constant) and isinstance(node.right.value, str)]


def string_literals(path):
    """The string constants of a module's code (docstrings and f-string texts left out)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    in_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                   for part in node.values}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and id(node) not in in_fstrings]


def test_course_folder_paths():
    course = CourseFolder("/c")
    assert course.submitted("amy", "01_anchors") == Path("/c/submitted/amy/01_anchors")
    assert course.repaired() == Path("/c/repaired")
    assert course.results("01_anchors") == Path("/c/reports/01_anchors/results.json")
    assert course.gradebook_url == "sqlite:////c/gradebook.db"
    assert course.hidden_file("02_network") == Path("/c/hidden/02_network.py")
    assert CourseFolder().assignments() == ["01_anchors", "02_network", "03_training", "04_inference"]


def test_the_settings_are_read_once_and_bad_ones_name_the_file(tmp_path):
    course = CourseFolder(tmp_path)
    assert course.settings == {}
    (tmp_path / "course.toml").write_text('[publish]\nrepository = "a/b"  # where\n')
    assert CourseFolder(tmp_path).settings == {"publish": {"repository": "a/b"}}
    (tmp_path / "course.toml").write_text("[publish\n")
    with pytest.raises(SystemExit, match="course.toml"):
        CourseFolder(tmp_path).settings


def test_python_310_reads_course_toml_as_tomllib_does():
    tomllib = pytest.importorskip("tomllib")
    text = CourseFolder().settings_file.read_text()
    assert read_simple_toml(text) == tomllib.loads(text) == CourseFolder().settings


keys = st.from_regex(r"[a-z][a-z_-]{0,8}", fullmatch=True)
texts = st.text(st.characters(blacklist_characters='"\\', blacklist_categories=("Cc", "Cs")),
                max_size=30)


@given(st.dictionaries(keys, st.dictionaries(keys, texts, max_size=3), max_size=3))
def test_the_simple_reader_agrees_with_tomllib_on_its_subset(data):
    tomllib = pytest.importorskip("tomllib")
    text = "\n".join(f"# a comment\n[{section}]\n" + "\n".join(f'{k} = "{v}"  # note'
                                                                for k, v in pairs.items())
                     for section, pairs in data.items())
    assert read_simple_toml(text) == tomllib.loads(text) == data


def test_the_simple_reader_refuses_what_it_does_not_read():
    with pytest.raises(ValueError, match="line 2"):
        read_simple_toml('[a]\nx = 3\n')


def test_the_entry_scripts_only_start_a_command():
    for name in ("instructor", "manage"):
        tree = ast.parse((COURSE / f"{name}.py").read_text())
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert functions == [], f"course/{name}.py defines code: it belongs in classroom/"
    assert layout.COURSE == COURSE and str(COURSE) in sys.path
