"""The one user-error wrapper of every command-line entry point (scripts/ and tools/).

A user error (a bad flag or config key, a missing file or weights, an unreadable or short video, a malformed
prompt) is printed as one line, ``error: <message>``, and the process exits with code 2; anything else is a
bug and keeps its traceback. Library code raises these exceptions with the offending value and the fix.
"""
from __future__ import annotations

import sys
from typing import Callable, Optional, Sequence

from .config import ConfigKeyError

# ValueError covers VideoReadError, PromptFormatError, ResumeMismatchError and CheckpointMismatchError;
# FileNotFoundError covers WeightsNotFoundError.
USER_ERRORS = (ValueError, FileNotFoundError, ConfigKeyError)
USER_ERROR_EXIT_CODE = 2


def run_cli(main: Callable, argv: Optional[Sequence[str]] = None) -> int:
    """Run ``main(argv)`` and return the exit code: ``main``'s own int (0 for any other result), or 2 after
    printing a user error as one line on stderr."""
    try:
        result = main(argv)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
