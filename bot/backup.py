"""``backup`` and ``restore``: SQLite's online backup API, safe while the server runs.

A backup is taken through SQLite (never by copying the file, which can catch a
half-written page or miss what is still in the WAL), written to a temporary
name, checked with ``PRAGMA integrity_check`` and only then renamed into place.

A restore is refused while any process has the database open: swapping the
data under a running server would mix two histories (ticket numbers, outbox
rows, conversation states). Nothing is deleted: the current database is first
backed up beside itself as ``<name>.before-restore-<stamp>.db``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from bot import config as config_module

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 30
# In WAL mode every open connection holds a shared lock on this byte of the
# -shm file (SQLite's "DMS" slot: WALINDEX_LOCK_OFFSET 120 + SQLITE_SHM_NLOCK 8).
SHM_DMS_BYTE = 128
REQUIRED_TABLES = ("messages", "tickets", "events")


class BackupError(RuntimeError):
    """A backup or restore that could not be done safely; the message says why."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from bot.cli import add_config_argument

    backup = subparsers.add_parser("backup", help="online backup of the database")
    backup.add_argument("path", nargs="?", help="file or folder (default: storage.backup_dir)")
    backup.add_argument("--keep", type=int, default=0,
                        help="in a folder, keep only the newest N backups (0: keep all)")
    add_config_argument(backup)
    backup.set_defaults(func=run_backup)
    restore = subparsers.add_parser("restore", help="replace the database with a backup "
                                    "(the server must be stopped)")
    restore.add_argument("path", help="backup file to restore")
    add_config_argument(restore)
    restore.set_defaults(func=run_restore)


@contextlib.contextmanager
def _open(path: Path | str) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS)
    try:
        yield conn
    finally:
        conn.close()


def integrity_problems(path: Path | str) -> list[str]:
    """What ``PRAGMA integrity_check`` and a schema check find wrong ([] when sound)."""
    try:
        with _open(path) as conn:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        return [f"not a readable SQLite database: {error}"]
    problems = [row for row in rows if row != "ok"]
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        problems.append(f"not a Complaint Desk database (no table {', '.join(missing)})")
    return problems


def backup(source: Path | str, target: Path | str) -> Path:
    """Copy ``source`` to ``target`` with the online backup API; returns the checked file.

    One step (``pages=-1``) under a read transaction: in WAL mode it does not
    block writers, and the copy is one consistent snapshot.
    """
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    with _open(source) as src, _open(partial) as dst:
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    problems = integrity_problems(partial)
    if problems:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed its check: {'; '.join(problems[:5])}")
    _fsync(partial)
    os.replace(partial, target)
    return target


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def default_name(database: Path, moment: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(moment))
    return f"{database.stem}-{stamp}.db"


def prune(folder: Path, database: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` backups of ``database`` in ``folder``."""
    backups = sorted(folder.glob(f"{database.stem}-*.db"))
    doomed = backups[:-keep] if keep > 0 else []
    for path in doomed:
        path.unlink()
    return doomed


def in_use(database: Path | str) -> bool:
    """True while another process has the (WAL-mode) database open.

    Call it only from a process without its own connection to ``database``:
    closing any descriptor of the -shm file drops this process's POSIX locks.
    """
    shm = Path(f"{database}-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return False  # no connection has set up the shared memory
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_BYTE)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, SHM_DMS_BYTE)
        return False
    finally:
        os.close(fd)


def restore(backup_file: Path | str, database: Path | str) -> Path | None:
    """Replace ``database``'s content with ``backup_file``; returns where the old one went."""
    backup_file, database = Path(backup_file), Path(database)
    problems = integrity_problems(backup_file) if backup_file.is_file() else ["no such file"]
    if problems:
        raise BackupError(f"{backup_file}: not restored: {'; '.join(problems[:5])}")
    if in_use(database):
        raise BackupError(f"{database} is open in another process: stop the server first "
                          "(systemctl stop complaint-desk)")
    saved = None
    if database.is_file():
        saved = database.with_name(f"{database.stem}.before-restore-"
                                   f"{time.strftime('%Y%m%d-%H%M%S')}.db")
        backup(database, saved)
    database.parent.mkdir(parents=True, exist_ok=True)
    with _open(backup_file) as src, _open(database) as dst:
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=WAL")
    return saved


def run_backup(args: argparse.Namespace) -> int:
    settings = config_module.load(args.config)
    database = Path(settings["storage.path"])
    target = Path(args.path or settings["storage.backup_dir"])
    folder = target if target.is_dir() or not args.path or args.path.endswith("/") else None
    if folder is not None:
        target = folder / default_name(database)
    _take_journals(settings["storage.path"])
    try:
        written = backup(database, target)
    except BackupError as error:
        print(f"备份失败 / backup failed: {error}")
        return 1
    print(f"backup written: {written} ({written.stat().st_size} bytes, integrity ok)")
    if folder is not None and args.keep:
        for path in prune(folder, database, args.keep):
            print(f"old backup removed: {path}")
    return 0


def _take_journals(storage_path: str) -> None:
    """Messages acknowledged in a surge and still only in an intake journal go into the
    database first, so the backup has them too (storage/intake.py)."""
    from storage import intake
    from storage.db import get_db

    if intake.has_unread(storage_path):
        added = intake.take(get_db(storage_path), storage_path, settle_seconds=0)
        print(f"intake journals: {added} messages taken into the database first")


def run_restore(args: argparse.Namespace) -> int:
    settings = config_module.load(args.config)
    database = Path(settings["storage.path"])
    try:
        saved = restore(args.path, database)
    except BackupError as error:
        print(f"恢复失败 / restore refused: {error}")
        return 1
    if saved:
        print(f"previous database kept as {saved}")
    print(f"restored {args.path} into {database}; start the server again")
    return 0
