"""Atomic file writes: nothing the user saved is ever left half-written.

Every file ncedu writes (histories, checkpoints, downloads, GIFs) goes through
:func:`atomic_path`: the content is written to a temporary file in the same folder, flushed to
disk, and only then moved over the destination with ``os.replace`` (atomic on POSIX and
Windows). If writing fails, or a check raises before the block ends, the temporary file is
removed and the previous file, if any, is untouched.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

__all__ = ["atomic_path"]


@contextmanager
def atomic_path(path: Union[str, os.PathLike], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path``.

    ``suffix`` is the temporary file's extension, for writers that choose a format by it
    (e.g. ``".gif"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
