"""Code that runs in the student's kernel (an untrusted process), sent into the sandbox as files.

The driver copies these files (and ``../plain.py``) into ``/grader/kernel`` of the sandbox, a
folder the kernel can read but not change, and starts every kernel with ``startup.py`` as
IPython's startup file. Nothing here is reached through a name of the notebook's namespace:

    startup.py        before the first cell: installs the audit hook, registers the comm target
                      through which the driver asks for each recorded case, the IPython state
                      and the audit channel's seal
    audit.py          the audit hook: which events a teaching assistant should see, written to
                      a socket only the driver reads
    recorder.py       one recorded case (the notebook's value or call, as plain data); loaded
                      fresh from its file for every case
    ipython_state.py  IPython's hooks, compared at the start and the end of the notebook

Each file is standard library only (``recorder.py`` uses ``plain.py``, passed in), so the tests
import them as ``classroom.grader.kernel.*`` and exercise them in-process, without a sandbox;
inside the sandbox ``startup.py`` loads its siblings by path (nothing else in the course does).
"""
