#!/usr/bin/python3
"""Puts the -j 8 rows and the targets of bench/results/latest.md into
README.md, between <!-- bench:begin --> and <!-- bench:end -->.

    /usr/bin/python3 bench/readme.py [NOTE]

NOTE (optional) is said of the machine in the first line, e.g. "started on
a quiet machine". Run it after bench/run.sh when its results are the ones
to publish; it changes nothing else in the README.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "latest.md")
README = os.path.join(HERE, "..", "README.md")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
JOBS = "8"


def sections(text):
    """(heading, lines) of each '## ' section."""
    out, head, lines = [], None, []
    for line in text.splitlines():
        if line.startswith("## "):
            if head is not None:
                out.append((head, lines))
            head, lines = line[3:], []
        elif head is not None:
            lines.append(line)
    if head is not None:
        out.append((head, lines))
    return out


def table(lines):
    return [l for l in lines if l.startswith("|")]


def build(text, note):
    made = re.search(r"on (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", text)
    if not made:
        sys.exit("readme.py: no date in %s" % RESULTS)
    cpus = re.search(r"\| CPUs \(nproc\) \| (\d+) \|", text)
    rows, targets = [], []
    for head, lines in sections(text):
        if head == "Targets":
            targets = table(lines)
            continue
        t = table(lines)
        if not t or not t[0].startswith("| contender |"):
            continue
        workload = head.split(":")[0]
        if not rows:
            rows = ["| workload " + t[0], "| --- " + t[1]]
        for r in t[2:]:
            cells = [c.strip() for c in r.strip("|").split("|")]
            if len(cells) > 1 and cells[1] == JOBS:
                rows.append("| %s %s" % (workload, r))
    if not rows or not targets:
        sys.exit("readme.py: %s has no tables" % RESULTS)
    first = "Measured by `bench/run.sh` on %s (%s cores%s)." % (
        made.group(1), cpus.group(1) if cpus else "?",
        ", " + note if note else "")
    return "\n".join([
        BEGIN,
        first + " Full tables (also -j 1), limit rows, tool versions and "
        "the chart: [bench/results/latest.md](bench/results/latest.md); "
        "what each tuning lever gained: [bench/NOTES.md](bench/NOTES.md).",
        "",
        *rows,
        "",
        "Targets (from the issue) against this run:",
        "",
        *targets,
        END,
    ])


def main():
    note = " ".join(sys.argv[1:])
    with open(RESULTS, encoding="utf-8") as f:
        block = build(f.read(), note)
    with open(README, encoding="utf-8") as f:
        readme = f.read()
    a, b = readme.find(BEGIN), readme.find(END)
    if a < 0 or b < a:
        sys.exit("readme.py: no %s ... %s in README.md" % (BEGIN, END))
    with open(README, "w", encoding="utf-8") as f:
        f.write(readme[:a] + block + readme[b + len(END):])


if __name__ == "__main__":
    main()
