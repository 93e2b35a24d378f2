"""Atomic file writes: nothing the user saved is ever left half-written.

Every file ncedu writes (histories, checkpoints, downloads, GIFs, student editions) goes through
:func:`atomic_path`: the content is written to a temporary file in the same folder, flushed to
disk, and only then moved over the destination with ``os.replace`` (atomic on POSIX and
Windows). If writing fails, or a check raises before the block ends, the temporary file is
removed and the previous file, if any, is untouched.

The file gets the permissions a plain ``open(path, "w")`` would give it (``0o666`` less the
user's umask), not the owner-only mode of :func:`tempfile.mkstemp`, so that a lecturer can
publish a student edition or share a history. A process killed while writing leaves its
temporary file behind (nothing can remove it then); the temporary's name carries the writer's
process id, and the next write of the same file removes the temporaries of writers that no
longer run.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

__all__ = ["atomic_path"]

_MARK = ".ncedu-tmp"


def _temporary_name(path: Path, suffix: str) -> Path:
    """``.NAME.PID.RANDOM.ncedu-tmpSUFFIX`` beside ``path``."""
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{_MARK}{suffix}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's), or we cannot tell: leave its file alone
    return True


def remove_stale_temporaries(path: Union[str, os.PathLike]) -> list[Path]:
    """Remove the temporaries that writers of ``path`` killed mid-write left beside it; returns them."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    prefix = f".{path.name}."
    for candidate in path.parent.iterdir():
        name = candidate.name
        if not (name.startswith(prefix) and _MARK in name):
            continue
        pid_text = name[len(prefix):].split(".", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            try:
                candidate.unlink()
                removed.append(candidate)
            except OSError:
                pass
    return removed


@contextmanager
def atomic_path(path: Union[str, os.PathLike], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path``.

    ``suffix`` is the temporary file's extension, for writers that choose a format by it
    (e.g. ``".gif"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = _temporary_name(path, suffix)
    # created with mode 0o666: the kernel applies the umask, as for any file the user writes
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
