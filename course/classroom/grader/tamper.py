"""Tamper evidence: what a teaching assistant should look at in a submission.

Flags come from three places: a static reading of the submitted code (done here, in the
trusted grader, so nothing in the notebook can hide from it short of obfuscation, which is
flagged itself; it judges uses, such as ``os.kill`` or ctypes, whatever the locked cells
imported), what the sandbox saw while the notebook ran (the kernel's audit hook and its
channel, IPython's hooks, timeouts of cells and of recorded cases, crashes, output limits) and
what the judge found
odd in an answer (``odd_answer``: a number too large for a float, text for a number, several
values for one). A flag never changes a score: the points come only from the recorded answers.
"""

import ast
import json
import threading

SYSTEM_MODULES = {"os", "sys", "subprocess", "shutil", "pathlib", "glob", "socket", "ctypes",
                  "signal", "importlib", "builtins", "gc", "inspect", "io", "threading",
                  "multiprocessing", "resource", "pty", "tempfile", "urllib", "http", "requests",
                  "sqlite3", "zipfile", "tarfile", "pickle", "marshal", "types", "atexit", "faulthandler"}
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr",
                 "globals", "vars", "open", "breakpoint"}
IPYTHON_NAMES = {"get_ipython", "input_transformers_cleanup", "input_transformers_post",
                 "ast_transformers", "set_custom_exc", "showtraceback", "register_magic_function",
                 "run_cell", "custom_exceptions", "events"}
# Uses judged wherever they appear, whatever a locked cell already imported (``import os`` in
# the setup cell must not hide ``os.kill``): a name, attribute or imported name -> the flag
USES = dict.fromkeys(["kill", "killpg", "pthread_kill", "pidfd_send_signal"], "signal")
USES.update(dict.fromkeys(["pidfd_open", "pidfd_getfd", "ptrace", "process_vm_readv",
                           "process_vm_writev", "getppid"], "process_access"))
USES.update(dict.fromkeys(["truncate", "ftruncate"], "file_access"))
USES.update(dict.fromkeys(["ctypes", "_ctypes", "cffi", "ctypeslib", "CDLL", "PyDLL", "cdll", "pydll",
                           "pythonapi", "LoadLibrary", "CFUNCTYPE", "PYFUNCTYPE"], "native_code"))
USES.update(dict.fromkeys(["_getframe", "currentframe", "_current_frames", "getouterframes",
                           "getinnerframes", "walk_stack", "get_referrers", "get_referents",
                           "get_objects", "settrace", "setprofile", "f_back", "f_globals", "f_locals",
                           "f_builtins", "tb_frame", "gi_frame", "cr_frame", "ag_frame", "__code__",
                           "__closure__", "__globals__", "co_code"], "introspection"))
USES.update(dict.fromkeys(["comm_manager", "register_target", "unregister_target",
                           "shell_handlers"], "recorder_access"))
NATIVE_MODULE_NAMES = {"ctypes", "_ctypes", "cffi"}        # as text: importlib.import_module("ctypes")
# What the grader's recorder in the kernel relies on (kernel/startup.py): a store into one of
# these is flagged, on top of ``patching``
RECORDER_TARGETS = ("builtins.", "__builtins__", "json.", "sys.modules", "plain.")
RECORDER_NAMES = {"__builtins__", "__import__"}
EQUALITY_METHODS = {"__eq__", "__ne__", "__hash__", "__bool__", "__len__", "__float__", "__int__",
                    "__index__", "__array__", "__array_ufunc__", "__array_function__",
                    "__array_interface__", "__abs__", "__sub__", "__rsub__", "__lt__", "__le__",
                    "__gt__", "__ge__", "__getattr__", "__class__"}


# CPython 3.11's parser keeps its recursion depth in shared state: two threads parsing at once
# (grading workers scan submissions in threads) fail with "AST constructor recursion depth
# mismatch". One parse at a time.
_PARSING = threading.Lock()


def flag(kind, cell, detail):
    return {"flag": kind, "cell": cell, "detail": detail[:300]}


def locked_names(release_nb):
    """{name: origin} of what the locked cells of the release import or define (``check``,
    ``np``, ``BoundingBox``, helper functions): rebinding one of them to something else is
    worth a look (``import numpy as np`` again is not). Plain variables of a locked cell are
    left out (students reuse ``height`` or ``expected`` freely)."""
    names = {}
    for cell in release_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("solution"):
            tree = _parse(cell.source)
            names.update({k: v for k, v in _module_level_bindings(tree).items() if v})
    return names


def _origin(node, alias):
    if isinstance(node, ast.ImportFrom):
        return f"from {'.' * node.level}{node.module} import {alias.name}"
    return f"import {alias.name}" if alias.asname else f"import {alias.name.split('.')[0]}"


def _module_level_bindings(tree):
    """{name: origin} of the names a cell binds at module level (or declares ``global``):
    origin is the import it comes from, "def" for a function or class, None otherwise."""
    names = {}
    if tree is None:
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            names.update(dict.fromkeys(node.names))
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, scopes):
                if not isinstance(child, ast.Lambda):
                    names[child.name] = "def"
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
                names[child.id] = None
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                for alias in child.names:
                    names[(alias.asname or alias.name).split(".")[0]] = _origin(child, alias)
            visit(child)
    visit(tree)
    return names


def _parse(source):
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        source = TransformerManager().transform_cell(source)
    except Exception:
        pass
    try:
        with _PARSING:
            return ast.parse(source)
    except SyntaxError:
        return None


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_cell(source, cell, protected):
    """Flags for one student-editable cell's code (``protected``: names of locked cells)."""
    tree = _parse(source)
    if tree is None:
        return [flag("syntax", cell, "the cell does not parse")] if source.strip() else []
    bindings = _module_level_bindings(tree)
    imported = {name for name, origin in bindings.items() if origin and origin != "def"}
    found = [flag("rebinding", cell, f"rebinds {name}, which a locked cell defines")
             for name, origin in sorted(bindings.items(), key=lambda kv: kv[0])
             if name in protected and (origin != protected[name] or origin == "def")]
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            risky = sorted({m.split(".")[0] for m in modules} & SYSTEM_MODULES)
            if risky:
                found.append(flag("system_import", cell, f"imports {', '.join(risky)}"))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("boxloc") and \
                    any(a.name.startswith("_") for a in node.names):
                found.append(flag("private_import", cell, f"imports private names of {node.module}"))
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            root = _root_name(node)
            target = ast.unparse(node)[:80]
            if root in protected or root in imported or root in SYSTEM_MODULES or root == "__builtins__":
                found.append(flag("patching", cell, f"assigns to {target}"))
            if target.startswith(RECORDER_TARGETS):
                found.append(flag("recorder_access", cell, f"assigns to {target}, which the recorder uses"))
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else \
                node.func.attr if isinstance(node.func, ast.Attribute) else None
            if name in DYNAMIC_CALLS:
                found.append(flag("dynamic_code" if name not in ("open",) else "file_access",
                                  cell, f"calls {name}()"))
            if name == "system" or name in ("run_line_magic", "run_cell_magic"):
                found.append(flag("shell", cell, "runs a shell command or magic"))
        elif isinstance(node, ast.Attribute) and node.attr in IPYTHON_NAMES:
            found.append(flag("ipython_hooks", cell, f"uses {node.attr}"))
        elif isinstance(node, ast.Name) and node.id in IPYTHON_NAMES:
            found.append(flag("ipython_hooks", cell, f"uses {node.id}"))
        found += _uses(node, cell)
        if isinstance(node, ast.ClassDef):
            methods = {b.name for b in node.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef))}
            assigned = {t.id for b in node.body if isinstance(b, ast.Assign)
                        for t in b.targets if isinstance(t, ast.Name)}
            special = sorted((methods | assigned) & EQUALITY_METHODS)
            if special:
                found.append(flag("custom_equality", cell, f"class {node.name} defines {', '.join(special)}"))
    found += [flag("recorder_access", cell, f"rebinds {name}, which the recorder uses")
              for name in sorted(set(bindings) & RECORDER_NAMES)]
    found += [flag("recorder_access", cell, f"binds {name}, a name of the grader's")
              for name in sorted(bindings) if name.startswith("_boxloc")]
    return _unique(found)


def _uses(node, cell):
    """Flags for one node's use of something in USES (a name, an attribute, an imported name,
    a module named as text) or of another process's /proc entries or the grader's folder."""
    if isinstance(node, ast.Name):
        names = [node.id]
    elif isinstance(node, ast.Attribute):
        names = [node.attr]
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [part for alias in node.names for part in alias.name.split(".")]
        names += [node.module.split(".")[0]] if isinstance(node, ast.ImportFrom) and node.module else []
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
        if text in NATIVE_MODULE_NAMES:
            return [flag("native_code", cell, f"names the module {text}")]
        if text.startswith("/proc/") and not text.startswith(("/proc/self", "/proc/thread-self")):
            return [flag("process_access", cell, f"names {text[:60]}")]
        if text.startswith(("/grader", "BOXLOC_KERNEL")):
            return [flag("recorder_access", cell, f"names {text[:60]}")]
        return []
    else:
        return []
    return [flag(USES[name], cell, f"uses {name}") for name in names if name in USES]


def _unique(found):
    seen, kept = set(), []
    for f in found:
        key = (f["flag"], f["cell"], f["detail"])
        if key not in seen:
            seen.add(key)
            kept.append(f)
    return kept


def scan_notebook(nb, release_nb):
    """Static flags for every cell a student could edit (locked cells are restored anyway)."""
    protected = locked_names(release_nb)
    locked = {c.metadata["nbgrader"]["grade_id"] for c in release_nb.cells
              if c.metadata.get("nbgrader", {}).get("locked")}
    found = []
    for index, cell in enumerate(nb.cells):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and gid not in locked:
            found += scan_cell(cell.source, gid or f"cell {index}", protected)
    return found


def _answer_flags(grade_id, results):
    """The first rejected answer and the first case that did not finish, of one exercise."""
    found = []
    rejected = [r["rejected"] for r in results if "rejected" in r]
    if rejected:
        found.append(flag("not_plain", grade_id, str(rejected[0])))
    unfinished = [(n, r["timeout"]) for n, r in enumerate(results, 1) if "timeout" in r]
    if unfinished:
        number, seconds = unfinished[0]
        found.append(flag("timeout", grade_id, f"case {number} did not finish within {seconds:g} s"))
    return found


def verdict_flags(verdicts):
    """``odd_answer`` for each exercise whose answer had an odd form (the judge's words)."""
    return [flag("odd_answer", gid, "; ".join(v["odd"])) for gid, v in sorted(verdicts.items())
            if v.get("odd")]


def runtime_flags(result):
    """Flags from what the sandbox reported (``sandbox.Result``)."""
    found = []
    if result.oom_kills:
        found.append(flag("memory_limit", None, f"the sandbox's memory cap ended "
                                                f"{result.oom_kills} process(es)"))
    if result.killed:
        found.append(flag(result.killed, None, "the sandbox was stopped: " + {
            "wall_clock": "notebook time limit", "output_flood": "too much output"}[result.killed]))
    events = result.events
    if not any(e.get("event") == "done" for e in events) and not result.killed:
        found.append(flag("incomplete", None, f"the driver stopped early (exit {result.returncode})"))
    for e in events:
        kind = e.get("event")
        if kind == "cell" and e.get("status") in ("timeout", "died"):
            found.append(flag("timeout" if e["status"] == "timeout" else "kernel_died",
                              e.get("grade_id") or f"cell {e.get('index')}", e["status"]))
        error = str(e.get("error") or "") if kind == "cell" else ""
        if "MemoryError" in error or "No space left" in error or "File too large" in error \
                or "Resource temporarily unavailable" in error:
            found.append(flag("resource_limit", e.get("grade_id") or f"cell {e.get('index')}", error))
        if kind == "cell" and e.get("flooded"):
            found.append(flag("output_flood", e.get("grade_id") or f"cell {e.get('index')}",
                              "output over the size limit removed"))
        if kind == "answer":
            found += _answer_flags(e["grade_id"], e["results"])
        if kind == "audit":
            for line in e.get("items", [])[:50]:
                try:
                    item = json.loads(line)
                    found.append(flag(str(item.get("kind")), None,
                                      f"{item.get('event')} {item.get('args')}"))
                except (ValueError, AttributeError):
                    found.append(flag("audit_log", None, "unreadable audit line"))
            if e.get("overflow"):
                found.append(flag("audit_flood", None, f"{e['overflow']} lines more than the "
                                                       "kernel's audit hook writes"))
            if e.get("sealed") is False:
                found.append(flag("audit_gap", None, "the kernel's audit hook did not confirm the "
                                                     "end of its channel (closed or replaced?)"))
        if kind == "ipython" and e.get("start") != e.get("end"):
            found.append(flag("ipython_hooks", None,
                              f"IPython hooks changed: {e.get('start')} -> {e.get('end')}"))
    return _unique(found)
