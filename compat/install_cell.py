"""Install a package into the running Python without changing any package already installed.

This is the logic of the course notebooks' first cell (standard library only: it runs before
boxloc exists). pip is given every installed distribution as a constraint (``name==version``),
so it can only add what is missing; when no release of what is missing fits the versions
present, pip says so and the plain install (which may change them) runs instead, after a
warning. Used by the tests (``tests/compat``) and by ``python3 run.py compat``.

    python install_cell.py SPEC [PIP ARGS...]
"""

import importlib.metadata
import re
import subprocess
import sys
import tempfile


def installed_pins():
    """``name==version`` of every distribution importable here, the first one on ``sys.path``
    where a name appears twice (the one Python imports)."""
    pins = {}
    for dist in importlib.metadata.distributions():
        name, version = dist.metadata["Name"], dist.version
        if not name or not version or not re.fullmatch(r"[0-9][0-9A-Za-z.+!_-]*", version):
            continue                         # no name, or a version pip cannot pin
        pins.setdefault(re.sub(r"[-_.]+", "-", name).lower(), f"{name}=={version}")
    return sorted(pins.values(), key=str.lower)


def install(spec, pip_args=()):
    """``pip install spec`` constrained to the installed versions; the plain install only when
    no compatible release exists. Returns ``'kept'`` or ``'changed'``."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="installed-") as constraints:
        constraints.write("\n".join(installed_pins()) + "\n")
        constraints.flush()
        command = [sys.executable, "-m", "pip", "install", *pip_args]
        if subprocess.run(command + ["-c", constraints.name, spec]).returncode == 0:
            return "kept"
    print(f"warning: no release of {spec}'s requirements fits the packages of this runtime; "
          f"installing anyway, pip will change the packages it lists", file=sys.stderr)
    subprocess.run(command + [spec], check=True)
    return "changed"


if __name__ == "__main__":
    print(install(sys.argv[1], sys.argv[2:]))
