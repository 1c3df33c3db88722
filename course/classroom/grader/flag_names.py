"""The fixed vocabulary of flags, and a finding as every report shows it (trusted side).

A flag's name reaches the CSV, the terminal and ``grading.json``; it must never be text a
submission chose (an audit line the kernel could write, a grade id in a cell's metadata). A name
outside this vocabulary is shown as ``unknown_flag``, with the raw name escaped in the detail.
Whoever adds a flag adds it here (``tests/course/test_hostile.py`` checks that every flag a
graded batch raises is known).
"""

from .safe_text import shown

FLAG_NAMES = {
    # repairs before grading (course/repairs.py, instructor.prepare)
    "colab": "Colab metadata removed (a note, not a flag)",
    "unknown_id": "a cell marked with a grade id that is not in the release: unmarked",
    "duplicate": "several cells with one grade id: the last one is graded",
    "type_changed": "a graded or locked cell changed type: put back",
    "edited": "a locked cell was edited: the release's source is used",
    "points": "a test cell's points were changed: the release's points are used",
    "missing_solution": "an answer cell was deleted: restored empty",
    "restored": "a test cell was deleted: put back",
    "restored_locked": "a locked cell was deleted: put back at its place",
    "unknown_notebook": "a notebook that is not in the release: not graded",
    "missing_notebook": "a release notebook was not submitted: scores 0",
    "unreadable": "a notebook that could not be read: scores 0",
    # what the LMS download says (classroom/lms, recorded by collect; the cell is the delay)
    "late": "submitted after the due time (--due) or marked late by the LMS; the points are "
            "reduced only under the course's [late_policy] setting",
    # static reading of the submitted code (grader/tamper.py)
    "syntax": "a cell does not parse",
    "rebinding": "rebinds a name that a locked cell defines",
    "system_import": "imports a system module",
    "private_import": "imports private names of boxloc",
    "patching": "assigns to an attribute of a module, a class or a locked name",
    "dynamic_code": "runs code built at run time (exec, eval, getattr, ...)",
    "file_access": "opens or truncates files",
    "shell": "runs a shell command or magic",
    "ipython_hooks": "uses or changes IPython's hooks",
    "custom_equality": "a class defines its own comparison or conversion",
    # ... and by the kernel's audit hook too, when the notebook's own code does it
    "native_code": "calls into native code (ctypes, cffi): every check inside the process can be bypassed that way",
    "introspection": "reaches into the interpreter: frames, the garbage collector's objects, tracing, code objects",
    "process_access": "reaches for another process: its memory, file descriptors or environment (/proc/<pid>, ptrace, pidfd)",
    "recorder_access": "touches what the grader's recorder uses: its files, builtins, json, sys.modules, the kernel's comms",
    # what the sandbox saw (grader/tamper.py, the kernel's audit hook in grader/kernel/audit.py)
    "wall_clock": "the notebook time limit stopped the sandbox",
    "output_flood": "too much output",
    "incomplete": "the driver stopped early",
    "timeout": "a cell ran past its time limit",
    "kernel_died": "the kernel died",
    "resource_limit": "a memory, disk, file or process limit was hit",
    "not_plain": "an answer was not plain data",
    "audit_log": "an unreadable audit line",
    "audit_flood": "more lines on the audit channel than the audit hook writes: something else wrote to it",
    "audit_gap": "the audit hook did not confirm the end of its channel: it, or the channel, was disabled",
    "memory_limit": "the sandbox's memory cap ended a process",
    "odd_answer": "an answer in a form no comparison could read (a huge number, text, an array)",
    # submissions left for a teaching assistant (not graded; grader/batch.py)
    "sandbox_failed": "the sandbox did not start: not graded",
    "malformed_report": "the sandbox's report is malformed: not graded",
    "judge_failed": "the judge failed on this student: not graded",
    "process": "started a process",
    "signal": "sent a signal",
    "network": "opened a network connection",
    "audit_hook": "added an audit hook",
    "course_access": "touched a path of the course folder",
    "read_outside": "read outside the sandbox's own files",
    "write_outside": "wrote outside the sandbox's own files",
}
UNKNOWN_FLAG = "unknown_flag"


def shown_finding(finding):
    """A finding ({flag, notebook, cell, detail}) as reports show it: the flag's name from the
    vocabulary (else ``unknown_flag``, the raw name escaped at the start of the detail), every
    text through ``shown``; a missing notebook or cell stays None. Idempotent."""
    name, detail = finding.get("flag"), shown(finding.get("detail"))
    if not (isinstance(name, str) and (name in FLAG_NAMES or name == UNKNOWN_FLAG)):
        name, detail = UNKNOWN_FLAG, shown(f"named {name}: {detail}")
    return {"flag": name, "notebook": _shown_or_none(finding.get("notebook")),
            "cell": _shown_or_none(finding.get("cell")), "detail": detail}


def _shown_or_none(value):
    return None if value is None else shown(value)
