"""Ctrl-C while ``python -m helpers`` starts: one line, not a traceback.

Importing torch takes about two seconds. A Ctrl-C in that time would print the traceback of whichever
import was running (inside a class body it even surfaces as a RuntimeError). ``helpers/__init__.py``
imports this module first, so that while the command line starts, Ctrl-C says that nothing was written
and exits with status 130; ``helpers.__main__`` hands Ctrl-C back to Python before any work starts.
Importing ``helpers`` any other way (a notebook, a script, the tests) leaves Ctrl-C alone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def leave_quietly_on_ctrl_c(signum, frame):
    """Nothing has been made yet: say so and leave at once."""
    sys.stderr.write("interrupted while starting; nothing was written\n")
    sys.stderr.flush()
    os._exit(130)


def starting_the_command_line() -> bool:
    """True while ``python -m helpers`` starts: Python sets sys.argv[0] to "-m" while it locates the module
    (its documentation of -m), and sys.orig_argv names the module. Only on the main thread, where signal
    handlers can be set, and only over Python's own Ctrl-C handling."""
    if sys.argv[:1] != ["-m"] or threading.current_thread() is not threading.main_thread():
        return False
    command = getattr(sys, "orig_argv", [])
    module = next((command[i + 1] for i, arg in enumerate(command[:-1]) if arg == "-m"), None)
    return module == __package__ and signal.getsignal(signal.SIGINT) is signal.default_int_handler


if starting_the_command_line():
    signal.signal(signal.SIGINT, leave_quietly_on_ctrl_c)
