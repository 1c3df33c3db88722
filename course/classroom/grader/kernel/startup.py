"""Runs in the student's kernel as it starts, before any cell (IPython's ``exec_files``).

It installs the audit hook (``audit.py``) on the channel the driver handed over, and registers
the comm target through which the driver asks for each recorded case, for IPython's state and
for the audit channel's seal: requests are comm messages of the Jupyter protocol, never code run
in the notebook's namespace, so no name a notebook binds lies on their way. The handler keeps
what it needs from this moment, before any student code ran: the shell, the channel, the
functions that read and run a file, and a copy of the builtins, which the modules it loads get
as theirs (a notebook that patches ``builtins.open`` or ``builtins.isinstance`` later changes
neither). The recorder and ``plain.py`` are read afresh from their read-only files for every
case. Everything lives inside ``_boxloc_start``, deleted at the end: nothing of the grader
stays in the notebook's namespace.

Settings come in ``$BOXLOC_KERNEL`` (JSON, not secret): the folder of these files, the comm
target's name, the audit channel's file descriptor and the audit rules (``audit.Rules``).
"""


def _boxloc_start():
    import builtins
    import json
    import os
    import types

    from IPython import get_ipython

    settings = json.loads(os.environ["BOXLOC_KERNEL"])
    files = {name: os.path.join(settings["folder"], f"{name}.py")
             for name in ("audit", "recorder", "plain", "ipython_state")}
    pristine = dict(vars(builtins))
    read, build, run, new_module = open, compile, exec, types.ModuleType

    def load(name):
        """A fresh module from this folder's read-only file, with the builtins as they were."""
        with read(files[name], encoding="utf-8") as source:
            code = build(source.read(), files[name], "exec")
        module = new_module(f"boxloc_kernel_{name}")
        module.__dict__["__builtins__"] = pristine
        run(code, module.__dict__)
        return module

    audit = load("audit")
    channel = audit.Channel(settings["audit_fd"])
    audit.install(audit.Rules(**settings["rules"]), channel)
    shell = get_ipython()

    def answer(request):
        if request["request"] == "record":
            return load("recorder").record(request, shell.user_ns, load("plain"))
        if request["request"] == "state":
            return load("ipython_state").state(shell)
        if request["request"] == "seal":
            channel.seal(request["nonce"])
            return True
        raise ValueError("unknown request")

    def handle(comm, message):
        try:
            result = answer(message["content"]["data"])
        except Exception as error:                  # the grader's own failure, said as such
            result = {"error": f"the recorder failed: {type(error).__name__}"}
        try:
            comm.send({"result": result})
        except Exception:                           # text JSON cannot carry (lone surrogates)
            comm.send({"result": {"error": "the answer could not be sent"}})
        comm.close()

    shell.kernel.comm_manager.register_target(settings["target"], handle)


_boxloc_start()
del _boxloc_start
