"""The archive of every ZIP downloaded from ANAF, on disk under the data directory.

ANAF deletes messages and downloads after about 60 days, so punte keeps its own copy of each:
``<data_dir>/archive/<cif>/<yyyy>/<mm>/<name>.zip``. Files are written to a temporary name and
hard-linked into place, so a file is either complete or absent, and an existing file is never
overwritten: the same content is reused, different content gets a new name (``-2``, ``-3`` ...).
The database records each file's path (relative to the data directory) and sha256.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from datetime import date
from pathlib import Path

ARCHIVE_DIR = "archive"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "document"


def archive_folder(data_dir: Path, cif: str, day: date) -> Path:
    return Path(data_dir) / ARCHIVE_DIR / safe_name(cif) / f"{day.year:04d}" / f"{day.month:02d}"


def candidate_path(data_dir: Path, cif: str, day: date, name: str) -> Path:
    return archive_folder(data_dir, cif, day) / f"{safe_name(name)}.zip"


def store(data_dir: Path, cif: str, day: date, name: str, data: bytes) -> tuple[str, str]:
    """Write ``data`` into the archive; return (path relative to ``data_dir``, sha256). Never overwrites."""
    digest = sha256(data)
    folder = archive_folder(data_dir, cif, day)
    folder.mkdir(parents=True, exist_ok=True)
    base = safe_name(name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        n = 1
        while True:
            target = folder / (f"{base}.zip" if n == 1 else f"{base}-{n}.zip")
            try:
                os.link(tmp, target)
                break
            except FileExistsError:
                if sha256(target.read_bytes()) == digest:
                    break
                n += 1
    finally:
        Path(tmp).unlink(missing_ok=True)
    return str(target.relative_to(Path(data_dir))), digest


def read(data_dir: Path, relative: str, expected_sha256: str | None = None) -> bytes:
    """An archived file's bytes; ``ValueError`` when its content no longer matches the recorded sha256."""
    data = (Path(data_dir) / relative).read_bytes()
    if expected_sha256 is not None and sha256(data) != expected_sha256:
        raise ValueError(f"arhiva {relative}: continutul nu mai corespunde sha256 inregistrat")
    return data


__all__ = ["ARCHIVE_DIR", "archive_folder", "candidate_path", "read", "sha256", "store"]
