"""Benchmark: how long a course notebook takes top to bottom, cell by cell, in a run mode.

    python3 benchmarks/bench_notebook_time.py --assignment 03_training --mode fast
    python3 benchmarks/bench_notebook_time.py --assignment 03_training --mode full

The solution notebook (hidden tests removed, as ``solutions/`` is built) is executed with
nbclient in a scratch folder, as a student runs it: ``fast`` is the configuration of the
executed solutions and the tests (``BOXLOC_FAST=1``), ``full`` what a student gets on Colab
(the full schedule on a GPU, the CPU schedule without one: the notebook picks by the device
TensorFlow sees). The dataset cache is a fresh folder (``--warm`` uses yours), so the first
data cell includes generating the phantom dataset, as on a new Colab runtime. Prints the device,
the seconds of every cell that took over a second (its first line), the total, and the load
average before and after: time it with nothing else running.
"""

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "course"))      # the course tools: the package course/classroom

from classroom.building import solution_notebook  # noqa: E402
from classroom.layout import CourseFolder  # noqa: E402


def cell_seconds(cell):
    """Wall seconds of an executed cell from nbclient's timing metadata."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def run(assignment, mode, warm):
    from nbclient import NotebookClient
    source = CourseFolder().source_notebooks(assignment)[0]
    nb = solution_notebook(source)
    env = {"fast": {"BOXLOC_FAST": "1"}, "full": {}}[mode]
    saved = {k: os.environ.get(k) for k in ("BOXLOC_FAST", "BOXLOC_DATA", "MPLBACKEND")}
    with tempfile.TemporaryDirectory(prefix="boxloc-bench-nb-") as work:
        os.environ.pop("BOXLOC_FAST", None)
        os.environ.update(env, MPLBACKEND="Agg")
        if not warm:
            os.environ["BOXLOC_DATA"] = str(Path(work) / "data")
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        try:
            NotebookClient(nb, timeout=7200, kernel_name="python3", record_timing=True,
                           resources={"metadata": {"path": work}}).execute()
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        total = time.perf_counter() - start
    return nb, total, load_before, os.getloadavg()[0]


def device_line(nb):
    """What the notebook printed about its device (its setup cell says which it uses)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("device:"):
                    return line[:120]
    return "(the notebook printed no device)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="03_training", choices=CourseFolder().assignments())
    parser.add_argument("--mode", default="fast", choices=["fast", "full"])
    parser.add_argument("--warm", action="store_true", help="use your dataset cache as it is")
    args = parser.parse_args(argv)
    nb, total, before, after = run(args.assignment, args.mode, args.warm)
    print(f"{args.assignment}, mode {args.mode}, {'warm' if args.warm else 'cold'} dataset cache; "
          f"{device_line(nb)}")
    for index, cell in enumerate(nb.cells):
        seconds = cell_seconds(cell)
        if cell.cell_type == "code" and seconds >= 1:
            first = next((line for line in cell.source.splitlines()
                          if line.strip() and not line.startswith("#")), "")
            print(f"  cell {index:2d}: {seconds:7.1f} s  {first[:70]}")
    print(f"total {total:.0f} s (load average {before:.1f} before, {after:.1f} after; "
          f"{os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
