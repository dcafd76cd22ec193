"""Printing a command's report: lines, or one ``--json`` document (credhelper.report_json)."""

from __future__ import annotations

import os
import sys


def emit(lines: list[str]) -> None:
    """Print ``lines``; a reader that went away (``ecrpy doctor | head -1``) ends the output
    quietly instead of raising BrokenPipeError (now or when the interpreter flushes at exit)."""
    try:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
