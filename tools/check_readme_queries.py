#!/usr/bin/env python3
"""Runs every sqlite3 command in the given Markdown files' code blocks against the committed
results database, exactly as a reader would type it (read-only), and fails if any errors or
returns no rows.

    tools/check_readme_queries.py README.md [docs/results-schema.md ...]

A command is a line of a fenced block that starts with `sqlite3`, continued over the following
lines (a trailing backslash, or a quoted query spanning them) until it parses as one command."""
import os, shlex, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def commands(path):
    """(line number, argv) of each sqlite3 command in the file's fenced code blocks."""
    with open(path) as f:
        lines = f.read().splitlines()
    fenced, i = False, 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced and line.lstrip().startswith("sqlite3 "):
            start, text = i + 1, line.strip()
            while True:
                try:
                    argv = shlex.split(text.replace("\\\n", " "), comments=True)
                    if not text.endswith("\\"):
                        break
                except ValueError:  # an open quote: the query goes on
                    pass
                i += 1
                if i >= len(lines):
                    raise SystemExit(f"{path}:{start}: unterminated sqlite3 command")
                text += "\n" + lines[i]
            yield start, argv
        i += 1


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    failures = checked = 0
    for name in sys.argv[1:]:
        for line, argv in commands(os.path.join(ROOT, name)):
            checked += 1
            where = f"{name}:{line}"
            database = next((a for a in argv[1:] if a.endswith(".sqlite")), None)
            if database is None or not os.path.isfile(os.path.join(ROOT, database)):
                print(f"{where}: no database file in the command ({database})")
                failures += 1
                continue
            run = subprocess.run([argv[0], "-readonly", "-bail"] + argv[1:], cwd=ROOT, capture_output=True, text=True)
            rows = [row for row in run.stdout.splitlines() if row.strip()]
            if run.returncode != 0 or run.stderr.strip():
                print(f"{where}: error: {run.stderr.strip().splitlines()[0] if run.stderr.strip() else run.returncode}")
                failures += 1
            elif len(rows) <= ("-header" in argv) * (1 + ("-column" in argv)):
                print(f"{where}: no rows")
                failures += 1
            else:
                print(f"{where}: {len(rows)} lines")
    if checked == 0:
        raise SystemExit("no sqlite3 command found: " + ", ".join(sys.argv[1:]))
    print(f"{checked} queries, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
