"""The one user-error wrapper of every command-line entry point (scripts/ and tools/).

======================================  ==========================================================  =====
what happened                           printed on stderr (always one line)                         exit
======================================  ==========================================================  =====
a user error: a bad flag, value or      ``error: <message>``: the offending value and the fix       2
config key, a missing or unreadable
file, weights not found, a full disk,
an unusable output folder
NaN / inf (loss or sampled latents)     ``error: <message>``: where it happened and what to try     1
SIGTERM (``timeout``, schedulers)       ``error: stopped by SIGTERM; <how to continue>``            143
Ctrl-C                                  ``error: stopped by Ctrl-C; <how to continue>``             130
anything else                           a traceback: it is a bug
======================================  ==========================================================  =====

SIGTERM is turned into an exception while ``main`` runs, so files are closed as on Ctrl-C (``with`` blocks
and ``finally`` run). Library code raises these exceptions with the offending value and the fix.
"""
from __future__ import annotations

import signal
import sys
import threading
from typing import Callable, Optional, Sequence

from .config import ConfigKeyError
from .files import DiskFullError
from .logging import quiet_third_party

# ValueError covers VideoReadError, PromptFormatError, ResumeMismatchError, CheckpointMismatchError,
# OutputDirError and ConfigFileError; FileNotFoundError covers WeightsNotFoundError; ConfigKeyError covers
# unknown keys and options (opensora.registry.UnknownOptionError).
USER_ERRORS = (ValueError, FileNotFoundError, ConfigKeyError, DiskFullError)
# NonFiniteLossError (training) and NonFiniteSampleError (inference)
RUN_FAILURES = (FloatingPointError,)
USER_ERROR_EXIT_CODE = 2
RUN_FAILURE_EXIT_CODE = 1


class Stopped(KeyboardInterrupt):
    """SIGTERM (or another signal) received while a command ran."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame):
    raise Stopped(signum)


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (multi-line messages are joined)."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


def _stop_message(exc: KeyboardInterrupt, stop_hint: Optional[str]) -> tuple[str, int]:
    signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    return f"error: stopped by {name}" + (f"; {stop_hint}" if stop_hint else ""), 128 + int(signum)


def run_cli(main: Callable, argv: Optional[Sequence[str]] = None, stop_hint: Optional[str] = None) -> int:
    """Run ``main(argv)`` and return the exit code: ``main``'s own int (0 for any other result), or the code of
    the table above after printing one line on stderr. ``stop_hint`` says how to continue after a stop."""
    quiet_third_party()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_stopped) if main_thread else None
    try:
        result = main(argv)
    except USER_ERRORS as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    except RUN_FAILURES as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return RUN_FAILURE_EXIT_CODE
    except KeyboardInterrupt as exc:
        message, code = _stop_message(exc, stop_hint)
        print(message, file=sys.stderr)
        return code
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
