"""The course's grader: a student's notebook can only answer, never decide its grade.

Trusted side (the instructor's process):
    batch.py     grade a class: sandboxes in parallel, then one judge
    sandbox.py   isolation levels, limits, and reading a sandbox's report back
    cgroups.py   memory and processes capped for a whole sandbox (a control group)
    events.py    the report's lines, read strictly (anything else: not graded)
    spec.py      how hidden tests are declared (<course>/hidden/<assignment>.py)
    judge.py     expected values and verdicts, run as ``python -E -s -m`` (a clean interpreter)
    explain.py   a wrong answer in the exercise's own words, for the feedback (summarised)
    tamper.py    flags for a teaching assistant: static reading + what the sandbox saw
    records.py   gradebook, executed notebooks, feedback pages
    integrity.py the gradebook exported only as the release and the judge left it
    overrides.py a teaching assistant's changed scores: the log (who, when, why), the gradebook
    safe_text.py text a student controls, made safe for a terminal, a CSV cell, a report
    flag_names.py  the fixed vocabulary of flags; a finding as reports show it
    shards.py    a class split over machines, merged into one gradebook

Inside the sandbox:
    sandbox-init.sh  builds the sandbox's root before any student code runs
    driver.py    runs the notebook in a kernel of another uid and asks it for each answer
                 (out of the kernel's reach: not dumpable, its report on its own descriptor)
    kernel/      what runs in the student's kernel (untrusted): startup, audit hook, recorder
                 (its own map); sent in as read-only files
    plain.py     answers as plain data (the only thing that comes back; the judge decodes it)
"""
