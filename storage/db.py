"""Database connections: one per thread and process, WAL, migrated on open.

Like flaskr's db.py, but holding a sqlite-utils ``Database``. Connections are
cached per (process, thread, path) so gunicorn workers never share one across
a fork, and every connection gets the same pragmas.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from storage.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 30_000
_local = threading.local()
_migrated: set[tuple[int, str]] = set()
_migrate_lock = threading.Lock()


class StorageError(RuntimeError):
    """The database cannot be opened or written (disk full, read-only, missing folder)."""


# SQLITE_BUSY, LOCKED, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB: the storage's
# trouble, not the SQL's (a handler's bad query is an OperationalError too).
STORAGE_TROUBLE = frozenset({5, 6, 8, 10, 11, 13, 14, 26})


def is_storage_trouble(error: BaseException) -> bool:
    """Whether an error means the database cannot be written now (a disk full, say)."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.Error) and code is not None and code & 0xFF in STORAGE_TROUBLE


def connect(path: str | os.PathLike[str]) -> Database:
    """A new migrated connection with the project's pragmas."""
    path = str(path)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db = Database(conn)
    db.writer_lock_path = None if path == ":memory:" else f"{path}-writelock"
    if path != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")
        # Checkpoints run after the write lock is released (see _checkpoint_now_and_then),
        # not inside a COMMIT that every other writer is queued behind.
        db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    _migrate_once(db, path)
    return db


def _migrate_once(db: Database, path: str) -> None:
    key = (os.getpid(), path)
    if key in _migrated and path != ":memory:":
        return
    with _migrate_lock:
        with write_transaction(db):
            pass  # take the write lock so two processes never migrate at once
        MIGRATIONS.apply(db)
        _migrated.add(key)


def get_db(path: str | os.PathLike[str]) -> Database:
    """The calling thread's connection to ``path``, opened on first use."""
    cache: dict[tuple[int, str], Database] = _local.__dict__.setdefault("dbs", {})
    key = (os.getpid(), str(path))
    db = cache.get(key)
    if db is None:
        db = cache[key] = connect(path)
    return db


def close_all() -> None:
    """Close this thread's cached connections (tests, shutdown)."""
    cache: dict[tuple[int, str], Database] = _local.__dict__.get("dbs", {})
    for db in cache.values():
        db.conn.close()
    cache.clear()


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """BEGIN IMMEDIATE: take the write lock up front.

    sqlite-utils' ``atomic()`` begins a deferred transaction; a deferred reader
    that later writes can fail with SQLITE_BUSY without waiting. Numbering
    tickets and claiming jobs across processes needs the lock from the start.
    Nested use becomes a savepoint (see ``savepoint``).
    """
    if db.conn.in_transaction:
        with savepoint(db):
            yield db
        return
    with _writer_turn(getattr(db, "writer_lock_path", None)):
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        else:
            db.conn.execute("COMMIT")
    _checkpoint_now_and_then(db)


@contextlib.contextmanager
def savepoint(db: Database) -> Iterator[Database]:
    """A savepoint inside the open transaction: an exception undoes only its writes.

    Like sqlite-utils' nested ``atomic()`` without a random name per use (names
    may repeat: SQLite releases and rolls back to the innermost one of a name).
    If the error already ended the whole transaction (disk full), there is
    nothing left to undo and the error propagates.
    """
    db.conn.execute("SAVEPOINT nested")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK TO nested")
            db.conn.execute("RELEASE nested")
        raise
    else:
        db.conn.execute("RELEASE nested")


def read_rows(db: Database, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The rows of a read as dicts, in one statement.

    ``db.query()`` wraps every read in a savepoint of its own (two extra
    statements) to refuse writes; the hot paths pass fixed SELECTs, so they
    read through this instead.
    """
    cursor = db.conn.execute(sql, params)
    keys = [column[0] for column in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


CHECKPOINT_EVERY_COMMITS = 100  # per process; SQLite's own default is ~1000 pages
_commits = threading.local()


def _checkpoint_now_and_then(db: Database) -> None:
    """Ask for a PASSIVE checkpoint every so many commits, run by a background thread.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses the
    threshold, fsyncs included, while every other writer waits for it. Run in the
    request's thread after the commit it still cost that one request ~15 ms (a
    p99 spike under load), so a per-process thread copies the pages instead,
    without blocking writers.
    """
    path = getattr(db, "writer_lock_path", None)
    if path is None:
        return
    count = _commits.__dict__.get(id(db), 0) + 1
    _commits.__dict__[id(db)] = count
    if count % CHECKPOINT_EVERY_COMMITS == 0:
        _checkpointer(path.removesuffix("-writelock")).request()


class _Checkpointer:
    """One daemon thread per process and database that runs the checkpoints asked for."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.wanted = threading.Event()
        self.done = threading.Event()  # set after each checkpoint (tests wait on it)
        threading.Thread(target=self._run, name="wal-checkpoint", daemon=True).start()

    def request(self) -> None:
        self.wanted.set()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            self.wanted.wait()
            self.wanted.clear()
            try:
                if conn is None:
                    conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                pass  # busy or read-only: the next one, or the last connection to close, does it
            self.done.set()


_checkpointers: dict[tuple[int, str], _Checkpointer] = {}
_checkpointers_lock = threading.Lock()


def _checkpointer(path: str) -> _Checkpointer:
    """This process's checkpointer for ``path`` (a forked worker starts its own)."""
    key = (os.getpid(), path)
    with _checkpointers_lock:
        if key not in _checkpointers:
            _checkpointers[key] = _Checkpointer(path)
        return _checkpointers[key]


_writer_locks: dict[tuple[int, str], tuple[threading.RLock, int]] = {}
_writer_locks_lock = threading.Lock()
_writer_depth = threading.local()


@contextlib.contextmanager
def _writer_turn(lock_path: str | None) -> Iterator[None]:
    """Queue writers in the kernel (flock) instead of SQLite's busy handler.

    A writer waiting on SQLITE_BUSY sleeps 1, 2, 5 … 100 ms between tries while
    the lock is passed around among the others: under load that starves it for
    seconds. A thread lock plus a lock file hands the turn over as soon as it is free.
    """
    if lock_path is None:
        yield
        return
    key = (os.getpid(), lock_path)
    if key not in _writer_locks:
        with _writer_locks_lock:
            if key not in _writer_locks:
                _writer_locks[key] = (threading.RLock(), _open_lock_file(lock_path))
    lock, fd = _writer_locks[key]
    depth = _writer_depth.__dict__.setdefault(lock_path, 0)
    with lock:
        if depth == 0 and fd >= 0:
            fcntl.flock(fd, fcntl.LOCK_EX)
        _writer_depth.__dict__[lock_path] = depth + 1
        try:
            yield
        finally:
            _writer_depth.__dict__[lock_path] = depth
            if depth == 0 and fd >= 0:
                fcntl.flock(fd, fcntl.LOCK_UN)


def _open_lock_file(lock_path: str) -> int:
    """The lock file's descriptor; -1 (SQLite's own locking only) where it cannot be made."""
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return -1
