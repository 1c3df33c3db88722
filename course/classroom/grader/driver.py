"""Runs INSIDE the sandbox: execute one submitted notebook and record its answers.

Started by ``sandbox.py`` as ``python driver.py`` in ``/sandbox``, which holds this file,
``plain.py``, ``job.json`` (the recording plan, the time limits) and ``submission.ipynb``.
It writes JSON lines to its standard output, which the trusted grader reads (capped):

    {"event": "started"}                          first, once the sandbox runs this script
    {"event": "cell", "index": i, "grade_id": ..., "status": "ok"|"error"|"timeout"|"died"|"skipped",
     "text": ..., "flooded": bool, "error": text}
    {"event": "answer", "grade_id": ..., "results": [one per case: {"ok": plain} | {"error": text}
                  | {"rejected": text} | {"timeout": seconds it was given} | {"skipped": why}]}
    {"event": "kernel", "detail": ...}            a kernel restart (after a timeout or a crash)
    {"event": "audit", "items": [...]}            what the kernel's audit hook saw
    {"event": "ipython", "start": ..., "end": ...}  IPython's hooks at the start and the end
    {"event": "notebook", "notebook": {...}}      the executed notebook (outputs capped)
    {"event": "done"}

Nothing here decides a grade: the student's code runs in the kernel this script starts and
could tamper with what this process reports about *that student*, and with nothing else (the
sandbox holds no other submission, no answer key, no course file, and no network).
The kernel's own stdout/stderr go to a file, not to this process's output. The grader reads
these lines strictly (``events.py``): a line in any other form leaves the submission ungraded.
"""

import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from traitlets.config import Config

HERE = Path(__file__).resolve().parent
TEXT_LIMIT = 4_000                 # characters of a test cell's output sent for feedback
CELL_OUTPUT_LIMIT = 200_000        # bytes of outputs kept per cell in the executed notebook
AUDIT_LOG = "/tmp/boxloc-audit.log"
REPORT = os.fdopen(os.dup(1), "w", buffering=1)   # our channel; the kernel never gets fd 1

# Installed in the kernel before any student code: an audit hook (it cannot be removed once
# added) that logs what a TA should look at into AUDIT_LOG, at most 200 lines.
AUDIT_HOOK = r'''
def _boxloc_install_audit(allowed_read, allowed_write, watched, log_path):
    import os, sys, json
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    state = {"busy": False, "count": 0}
    events = {"subprocess.Popen": "process", "os.system": "process", "os.exec": "process",
               "os.posix_spawn": "process", "os.spawn": "process", "os.fork": "process",
               "os.kill": "signal", "os.killpg": "signal", "signal.pthread_kill": "signal",
               "socket.connect": "network",
               "socket.getaddrinfo": "network", "sys.addaudithook": "audit_hook",
               "os.remove": "write", "os.rename": "write", "os.rmdir": "write",
               "shutil.rmtree": "write", "os.symlink": "write", "os.link": "write",
               "os.chmod": "write", "os.truncate": "write", "os.mkdir": "write"}
    paths_of = {"open": 0, "os.listdir": 0, "os.scandir": 0, "os.remove": 0, "os.rename": 0,
                "os.rmdir": 0, "shutil.rmtree": 0, "os.symlink": 1, "os.link": 1, "os.chmod": 0,
                "os.truncate": 0, "os.mkdir": 0, "os.chdir": 0}

    def normal(path):
        """An absolute path, or None for what is not a path (a file descriptor, None)."""
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return os.path.normpath(os.path.join(os.getcwd(), path)) if isinstance(path, str) else None

    def under(path, prefixes):
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)

    def hook(event, args):
        if state["busy"] or state["count"] >= 200:
            return
        state["busy"] = True
        try:
            kind = events.get(event) or (event.startswith("os.exec") and "process")
            if event in paths_of:
                path = args[paths_of[event]] if len(args) > paths_of[event] else None
                if event == "os.mkdir" and isinstance(path, (str, bytes)) and os.path.isdir(path):
                    path = None                     # mkdir(exist_ok=True) of a folder that exists
                writing = event not in ("open", "os.listdir", "os.scandir", "os.chdir") or (
                    event == "open" and (any(m in str(args[1] or "") for m in "wax+")
                                          or (isinstance(args[2], int) and args[2] & 3)))
                path = normal(path)
                if path is None:
                    kind = None
                elif under(path, watched):
                    kind = "course_access"          # the grader's own files, by their path
                elif not under(path, allowed_write if writing else allowed_read):
                    kind = "write_outside" if writing else "read_outside"
                else:
                    kind = None
            if kind:
                state["count"] += 1
                line = json.dumps({"kind": kind, "event": event, "args": repr(args)[:200]})
                os.write(fd, (line + "\n").encode())
        except Exception:
            pass
        finally:
            state["busy"] = False

    sys.addaudithook(hook)
'''

IPYTHON_STATE = r'''
def _boxloc_ipython_state():
    ip = get_ipython()
    from IPython.core.interactiveshell import InteractiveShell
    return {"input_transformers_cleanup": len(ip.input_transformers_cleanup),
            "input_transformers_post": len(ip.input_transformers_post),
            "ast_transformers": len(ip.ast_transformers),
            "custom_exceptions": len(ip.custom_exceptions),
            "showtraceback": type(ip).showtraceback is InteractiveShell.showtraceback
                             and "showtraceback" not in vars(ip),
            "run_cell": "run_cell" not in vars(ip)}
'''


def emit(**message):
    REPORT.write(json.dumps(message, separators=(",", ":")) + "\n")


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cell_text(cell):
    """What a student saw under a cell: streams, results and errors as text (capped)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        elif "text/plain" in output.get("data", {}):
            parts.append(output.data["text/plain"])
    text = "".join(p if p.endswith("\n") else p + "\n" for p in parts)
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "\n[... output cut]\n"


def error_text(cell):
    """'ename: evalue' of a cell's first error output (capped), or ''."""
    errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
    return f"{errors[0].ename}: {errors[0].evalue}"[:300] if errors else ""


def cap_outputs(cell):
    """Keep at most CELL_OUTPUT_LIMIT bytes of a cell's outputs; True if some were dropped."""
    kept, size, cut = [], 0, False
    for output in cell.get("outputs", []):
        size += len(json.dumps(output))
        if size > CELL_OUTPUT_LIMIT:
            cut = True
            break
        kept.append(output)
    if cut:
        kept.append(nbformat.v4.new_output("stream", name="stderr",
                                           text="[grader: output over the size limit removed]\n"))
        cell.outputs = kept
    return cut


class Kernel:
    """One kernel session that can be replaced after a timeout or a crash."""

    def __init__(self, nb, job):
        self.nb, self.job, self.client = nb, job, None
        self.ipython_start = None
        self.log = open(HERE / "kernel.log", "ab")   # every kernel's own stdout and stderr

    def start(self):
        config = Config()
        config.KernelManager.transport = "ipc"          # unix sockets: the sandbox has no network
        self.client = NotebookClient(self.nb, timeout=self.job["cell_timeout"], kernel_name="python3",
                                     allow_errors=True, interrupt_on_timeout=False,
                                     record_timing=False, config=config,
                                     resources={"metadata": {"path": str(HERE)}})
        self.client.create_kernel_manager()
        self.client.start_new_kernel(stdout=self.log, stderr=self.log)
        self.client.start_new_kernel_client()
        self.run_code(AUDIT_HOOK + f"\n_boxloc_install_audit({self.job['allowed_read']!r}, "
                      f"{self.job['allowed_write']!r}, {self.job['watched']!r}, {AUDIT_LOG!r})"
                      "\ndel _boxloc_install_audit\n")
        self.run_code(IPYTHON_STATE)
        if self.ipython_start is None:
            self.ipython_start = self.ipython_state()

    def ipython_state(self):
        status, cell = self.run_code("print(__import__('json').dumps(_boxloc_ipython_state()))")
        return cell_text(cell)[:2000] if status == "ok" else f"unavailable ({status})"

    def stop(self):
        if self.client is not None and self.client.km is not None:
            try:
                self.client._cleanup_kernel()
            except Exception:
                pass
        self.client = None

    def run_cell(self, cell, index):
        """'ok', 'error', 'timeout' or 'died' (the kernel is gone after the last two)."""
        try:
            self.client.execute_cell(cell, index)
        except CellTimeoutError:
            return "timeout"
        except DeadKernelError:
            return "died"
        except Exception as error:   # nbclient raising on a broken kernel: treat as dead
            cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                "error", ename=type(error).__name__, evalue=str(error)[:500], traceback=[]))
            return "died"
        return "error" if error_text(cell) else "ok"

    def run_detached(self, cell):
        """Run a cell that is not part of the notebook (the grader's own code, a replay):
        nbclient stores every executed cell back into its notebook at the given index, so it
        runs against a one-cell scratch notebook instead."""
        notebook, self.client.nb = self.client.nb, nbformat.v4.new_notebook(cells=[cell])
        try:
            return self.run_cell(cell, 0)
        finally:
            self.client.nb = notebook

    def run_code(self, code, timeout=None):
        """Run the grader's own code; ``timeout`` (seconds) replaces the cell limit for it."""
        cell = nbformat.v4.new_code_cell(code)
        saved = self.client.timeout
        self.client.timeout = timeout or saved
        try:
            return self.run_detached(cell), cell
        finally:
            self.client.timeout = saved


RECORD_CASE = r'''
def _boxloc_record(entry_path, answer_path, ns):
    import json, types
    plain = types.ModuleType("boxloc_plain")
    exec(compile(open({plain_path!r}).read(), "plain.py", "exec"), plain.__dict__)
    entry = json.load(open(entry_path))
    try:
        if entry["name"] not in ns:
            raise NameError(entry["name"] + " is not defined")
        answer = ns[entry["name"]]
        if entry["calls"]:
            helper = {{}}
            if entry["helper"]:
                exec(compile(entry["helper"], "recorder", "exec"), helper)
            args = plain.from_plain(entry["case"])
            answer = helper["record_case"](answer, *args) if "record_case" in helper else answer(*args)
        result = {{"ok": plain.to_plain(plain.answer_value(answer))}}
    except plain.NotPlain as error:
        result = {{"rejected": str(error)[:300]}}
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        result = {{"error": (type(error).__name__ + ": " + str(error))[:300]}}
    with open(answer_path, "w") as sink:
        json.dump(result, sink)
'''
ANSWER_LIMIT = 64_000_000          # bytes of one recorded case read back
RESULT_TEXTS = ("error", "rejected")   # what the kernel may write besides {"ok": plain}


def read_answer(path, status):
    """The result the kernel wrote for one case, in one of the forms of an answer event: the
    kernel is the student's, so anything else becomes an error of that case."""
    if status != "ok" or not path.exists() or path.stat().st_size > ANSWER_LIMIT:
        return {"error": f"the answer could not be recorded ({status})"}
    try:
        result = json.loads(path.read_text())
    except (ValueError, RecursionError):
        return {"error": "the answer could not be recorded (not JSON)"}
    if type(result) is dict and len(result) == 1 and ("ok" in result or (
            next(iter(result)) in RESULT_TEXTS and type(next(iter(result.values()))) is str)):
        return result
    return {"error": "the answer could not be recorded (malformed)"}


class Driver:
    def __init__(self, job):
        self.job = job
        self.nb = nbformat.read(HERE / "submission.ipynb", as_version=4)
        self.kernel = Kernel(self.nb, job)
        self.done = []                     # cells that completed (replayed after a restart)
        self.deadline = time.monotonic() + job["notebook_timeout"]

    def restart(self, reason):
        self.kernel.stop()
        emit(event="kernel", detail=reason)
        self.kernel.start()
        self.define_recorder()
        for index in self.done:            # bring back the state the later cells expect
            replay = nbformat.v4.new_code_cell(self.nb.cells[index].source)
            if self.kernel.run_detached(replay) in ("timeout", "died"):
                emit(event="kernel", detail=f"cell {index} failed on replay")
                self.kernel.stop()
                self.kernel.start()
                self.define_recorder()

    def define_recorder(self):
        self.kernel.run_code(RECORD_CASE.format(plain_path=str(HERE / "plain.py")))

    def record(self, gid):
        """Record an exercise's answer: its value, or one call per case, each case within its
        own time limit (``cell_timeout``, less if the notebook's time runs out first). A case
        that does not finish is recorded as such and ends the exercise: every case must pass
        for its points, and each such case costs a kernel restart; the remaining cases are
        recorded as skipped."""
        entry = self.job["plan"][gid]
        results, stopped = [], False
        for case in entry["cases"] if entry["calls"] else [None]:
            if stopped:
                results.append({"skipped": "after_unfinished"})
                continue
            result, stopped = self.record_case(gid, entry, case)
            results.append(result)
        emit(event="answer", grade_id=gid, results=results)

    def record_case(self, gid, entry, case):
        """(the result of one case, whether the exercise's recording stops here)."""
        limit = min(float(self.job["cell_timeout"]), self.deadline - time.monotonic())
        if limit < 1:
            return {"skipped": "notebook_time"}, True
        entry_path, answer_path = HERE / f"plan-{gid}.json", HERE / "answers" / f"{gid}.json"
        entry_path.write_text(json.dumps({**entry, "cases": None, "case": case}))
        answer_path.parent.mkdir(exist_ok=True)
        answer_path.unlink(missing_ok=True)
        status, _ = self.kernel.run_code(
            f"_boxloc_record({str(entry_path)!r}, {str(answer_path)!r}, get_ipython().user_ns)",
            timeout=limit)
        entry_path.unlink(missing_ok=True)          # a case exists only while it is recorded
        if status in ("timeout", "died"):
            self.restart(f"recording {gid}: {status}")
            return ({"timeout": round(limit, 1)} if status == "timeout" else
                    {"error": "the kernel died while this case ran"}), True
        return read_answer(answer_path, status), False

    def run(self):
        self.kernel.start()
        self.define_recorder()
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            if time.monotonic() > self.deadline:
                emit(event="cell", index=index, grade_id=grade_id(cell), status="skipped",
                     text="notebook time limit reached")
                continue
            status = self.kernel.run_cell(cell, index)
            flooded = cap_outputs(cell)
            emit(event="cell", index=index, grade_id=grade_id(cell), status=status,
                 text=cell_text(cell) if grade_id(cell) in self.job["plan"] else "",
                 flooded=flooded, error=error_text(cell))
            if status in ("ok", "error"):
                self.done.append(index)
            else:
                self.restart(f"cell {index}: {status}")
            if grade_id(cell) in self.job["plan"]:
                self.record(grade_id(cell))
        emit(event="ipython", start=self.kernel.ipython_start, end=self.kernel.ipython_state())
        self.kernel.stop()
        emit(event="audit", items=read_audit())
        emit(event="notebook", notebook=self.nb)
        emit(event="done")


def read_audit():
    try:
        lines = Path(AUDIT_LOG).read_text(errors="replace").splitlines()[:200]
    except OSError:
        return []
    return [line[:400] for line in lines]


if __name__ == "__main__":
    emit(event="started")                            # the sandbox is up: anything later is ours
    job = json.loads((HERE / "job.json").read_text())
    (HERE / "job.json").unlink()                     # read before any student code runs
    Driver(job).run()
    sys.exit(0)
