"""The figures the fault tests measure, printed at the end of `make chaos` (loaded there with `-p tests.chaos_report`).

No Django import here: pytest loads plugins before Django is set up.
"""

import os

FIGURES = []


def report(test, text):
    line = f"{test}: {text}"
    FIGURES.append(line)
    print(line)  # also shown by pytest when a test fails


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section(f"fault figures (KILOPUSH_CHAOS={os.getenv('KILOPUSH_CHAOS', '')})")
        for line in FIGURES:
            terminalreporter.write_line(line)
