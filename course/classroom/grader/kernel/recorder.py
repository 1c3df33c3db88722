"""Runs in the student's kernel: record one case of an exercise as plain data.

``startup.py`` loads this file afresh from its read-only copy for every case, into a namespace
of its own that is dropped afterwards, and calls ``record`` with the notebook's namespace and
a fresh ``plain`` module: no name the notebook binds (a global called like a helper of the
grader, a rebound ``open`` or ``exec``) is on the way. What the notebook can still reach is the
process itself (modules it patches, frames, the garbage collector, ctypes): the static scan and
the audit hook flag those routes; they can change this notebook's record, nobody else's.
"""


def record(request, namespace, plain):
    """``{"ok": plain data}``, ``{"rejected": why}`` or ``{"error": text}`` for one case:
    the value of ``request["name"]`` in ``namespace`` (the notebook's globals), or that
    function called on ``request["case"]`` (through the exercise's trusted ``helper`` source,
    which defines ``record_case(answer, *case)``, when it has one)."""
    try:
        name = request["name"]
        if name not in namespace:
            raise NameError(f"{name} is not defined")
        answer = namespace[name]
        if request["calls"]:
            helper = {}
            if request["helper"]:
                exec(compile(request["helper"], "recorder", "exec"), helper)
            args = plain.from_plain(request["case"])
            answer = helper["record_case"](answer, *args) if "record_case" in helper else answer(*args)
        return {"ok": plain.to_plain(plain.answer_value(answer))}
    except plain.NotPlain as error:
        return {"rejected": str(error)[:300]}
    except KeyboardInterrupt:
        raise
    except BaseException as error:           # SystemExit too: it is the notebook's answer
        return {"error": f"{type(error).__name__}: {error}"[:300]}
