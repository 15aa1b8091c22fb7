"""Output folders: check them before any work, lock them against a second run, report a full disk plainly.

=====================  ==========================================================================
``prepare_output_dir``  create the folder, or raise ``OutputDirError`` (a file, read-only, ...) before
                        anything is computed
``DirLock``            an exclusive ``fcntl.flock`` on ``<dir>/.lock`` (plus a suffix per rank): a second run
                        writing into the same folder stops with the holder's pid instead of both "succeeding";
                        the lock goes with the process, even after ``kill -9`` (the empty file stays)
``disk_errors``        turns "no space left on device" (``OSError`` ENOSPC / EDQUOT, or torch's short-write
                        ``inline_container.cc ... unexpected pos`` / ``PytorchStreamWriter failed``) into
                        ``DiskFullError``, which names the folder, the space left and what to do
=====================  ==========================================================================
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

# torch.save reports a failed write (a full disk) as a RuntimeError with one of these in its message
_TORCH_WRITE_ERRORS = ("inline_container.cc", "PytorchStreamWriter failed", "unexpected pos")


class OutputDirError(ValueError):
    """An output folder that cannot be used (a file, not writable, locked by another run)."""


class DiskFullError(OSError):
    """Writing failed because the disk is full (or the write came short)."""


def prepare_output_dir(path, flag: str = "--save-dir") -> Path:
    """Create ``path`` (and parents) and check that files can be created in it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"{flag} {path} is a file, not a folder; choose another {flag}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise OutputDirError(f"{flag} {path} is not writable ({type(exc).__name__}: {exc.strerror or exc}); "
                             f"choose a folder you can write to") from exc
    return path


class DirLock:
    """``with DirLock(folder, rank):`` holds an exclusive lock on ``folder/.lock`` (``.lock.rankR`` for R > 0)."""

    def __init__(self, directory, rank: int = 0, flag: str = "--save-dir"):
        self.path = Path(directory) / (".lock" if rank == 0 else f".lock.rank{rank}")
        self.flag, self._fd = flag, None

    def __enter__(self) -> "DirLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise OutputDirError(f"another run (pid {holder}) is writing into {self.path.parent}; wait for it, or "
                                 f"choose another {self.flag} (two runs in one folder would overwrite each "
                                 f"other's videos)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:  # the file stays (removing it could let two runs lock two different files)
            os.close(self._fd)
            self._fd = None


def _free_bytes(directory: Path) -> Optional[int]:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _write_failure(exc: BaseException) -> Optional[str]:
    """How a failed write reads: "no space left" (ENOSPC / EDQUOT), "a short write" (torch's writer), or None."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device of"
    if isinstance(exc, RuntimeError) and any(s in str(exc) for s in _TORCH_WRITE_ERRORS):
        return "a write came out short (usually a full disk) in"
    return None


@contextlib.contextmanager
def disk_errors(directory, fix: str):
    """Re-raise a full-disk failure inside the block as :class:`DiskFullError` naming ``directory`` and ``fix``.

    torch reports a full disk as ``RuntimeError: [enforce fail at inline_container.cc:...] . unexpected pos``
    (no errno); that is reported as a short write, with the space left now."""
    directory = Path(directory)
    try:
        yield
    except (OSError, RuntimeError) as exc:
        what = None if isinstance(exc, DiskFullError) else _write_failure(exc)
        if what is None:
            raise
        free = _free_bytes(directory)
        left = f"{free / 2**20:.0f} MiB free now" if free is not None else "free space unknown"
        raise DiskFullError(errno.ENOSPC, f"{what} {directory} ({left}; {type(exc).__name__}: "
                                          f"{str(exc).splitlines()[0][:120]}); {fix}") from exc
