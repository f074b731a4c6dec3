"""The surge's arrival journal: a message acknowledged first is kept with one append.

In a surge (bot/surge.py) the webhook must keep each message before it answers,
and that write is most of its cost. An insert into the inbox, with two workers
taking turns on SQLite's write lock, cost about 0.14 ms of CPU and a GIL round
trip per message under load (bench/webhook.py); appending one line to a file
costs about a tenth of that. So each worker appends the message as one JSON line
to its own file under ``<storage.path>-intake/``, and ``take`` (run by the drain,
the recovery job, ``backup`` and the webhook's own full path) moves complete lines
into the inbox as ``queued`` rows, in arrival order, in one transaction together
with each file's new offset: every line is taken once, and a retry that was
written twice is kept once (the key is the inbox's primary key).

Durability is that of SQLite's WAL at ``synchronous=NORMAL``: a written line
survives the process being killed, not the machine losing power. Each writer
holds an exclusive ``flock`` on its file while it writes to it (until it ends, or
moves to a new file past ``ROTATE_BYTES``), and publishes the file (a rename) only
once it holds the lock, so a file is deleted only when it is fully taken and its
writer has let go of it. A file with a line that cannot be read
(a write torn when the disk filled) is kept, renamed ``.bad``, for the operator.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from storage import inbox
from storage.db import write_transaction

log = logging.getLogger(__name__)
SUFFIX = ".jsonl"
SETTLE_SECONDS = 1.0  # a line younger than this may still have an older one behind it
MAX_READ_BYTES = 8 << 20  # per file and pass: bounds one transaction
ROTATE_BYTES = 64 << 20  # a writer moves to a new file past this size (~50,000 messages)
FIELDS = {"t": (int, float), "key": str, "openid": str, "type": str, "at": str, "raw": str,
          "reply": str}


def folder_for(storage_path: str) -> Path | None:
    """Where the journals of this database live (None for an in-memory database)."""
    return None if storage_path == ":memory:" else Path(f"{storage_path}-intake")


class Journal:
    """This process's journal file: one ``write`` per message, from any thread.

    The lock is held across each append, so a file is never closed (rotated, or
    given up after a failed write) while another thread writes to its descriptor,
    whose number the kernel could otherwise hand to a socket or the database.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None
        self._lock = threading.Lock()

    def append(self, key: str, openid: str, msg_type: str, received_at: str, raw: str,
               reply: str) -> None:
        """Keep one message; raises OSError when it could not be written whole."""
        record = {"t": time.time(), "key": key, "openid": openid, "type": msg_type,
                  "at": received_at, "raw": raw, "reply": reply}
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            fd = self._writable()
            try:
                written = os.write(fd, line)
            except OSError:
                self._let_go()
                raise
            if written != len(line):
                self._let_go()  # the torn line stays last in that file, which becomes .bad
                raise OSError(errno.ENOSPC, "the intake journal took only part of a message")

    def _writable(self) -> int:
        """The open file, or a new one: none yet, this one deleted under us (its lines
        would vanish), or big enough (taken, it is put away once we let go of it)."""
        if self._fd is not None:
            state = os.fstat(self._fd)
            if state.st_nlink == 0 or state.st_size >= ROTATE_BYTES:
                self._let_go()
        if self._fd is None:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            name = f"{os.getpid()}-{time.time_ns()}"
            hidden = self.folder / f".{name}.tmp"
            fd = os.open(hidden, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)  # held while this journal writes to the file
            os.rename(hidden, self.folder / f"{name}{SUFFIX}")
            self._fd = fd
        return self._fd

    def _let_go(self) -> None:
        """Close the file (and release its lock); the next message opens a new one."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._let_go()


_journals: dict[tuple[int, str], Journal] = {}
_journals_lock = threading.Lock()


def journal_for(storage_path: str) -> Journal:
    """This process's journal for the database at ``storage_path``."""
    key = (os.getpid(), storage_path)
    found = _journals.get(key)
    if found is None:
        folder = folder_for(storage_path)
        if folder is None:
            raise OSError(errno.EINVAL, "an in-memory database has no intake journal")
        with _journals_lock:
            found = _journals.setdefault(key, Journal(folder))
    return found


@dataclass
class _Read:
    """What one pass found in one file: records, the offset after them, bad lines."""

    records: list[dict[str, Any]]
    offset: int
    bad: int


def take(db: Database, storage_path: str, settle_seconds: float | None = None,
         now: float | None = None) -> int:
    """Move complete journal lines older than ``settle_seconds`` (``SETTLE_SECONDS``) into
    the inbox as ``queued`` rows, oldest first; how many rows were added."""
    folder = folder_for(storage_path)
    files = _journal_files(folder)
    if not files:
        return 0
    settle = SETTLE_SECONDS if settle_seconds is None else settle_seconds
    cutoff = (time.time() if now is None else now) - settle
    added = 0
    with write_transaction(db):
        known = _known(db)
        found: list[dict[str, Any]] = []
        for path in files:
            offset, bad = known.get(path.name, (0, 0))
            read = _read(path, offset, cutoff)
            found.extend(read.records)
            if read.offset != offset or path.name not in known:
                db.execute("INSERT INTO intake_files (name, offset, bad) VALUES (?,?,?) "
                           "ON CONFLICT(name) DO UPDATE SET offset = excluded.offset, "
                           "bad = excluded.bad", [path.name, read.offset, bad + read.bad])
            _taken_sizes[(storage_path, path.name)] = read.offset
        found.sort(key=lambda record: record["t"])
        for record in found:
            added += _keep(db, record)
    return added


def _keep(db: Database, record: dict[str, Any]) -> int:
    inserted = inbox.keep_queued_at(db, record["key"], record["openid"], record["type"],
                                    record["raw"], record["at"], record["reply"])
    if not inserted:
        owner = db.execute("SELECT openid FROM messages WHERE key = ?",
                           [record["key"]]).fetchone()
        if owner is not None and owner[0] != record["openid"]:
            log.warning("message key %s reused by another sender: the second one is not kept",
                        record["key"])
    return int(inserted)


def _read(path: Path, offset: int, cutoff: float) -> _Read:
    """Complete lines from ``offset``, stopping at the first one newer than ``cutoff``."""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            chunk = file.read(MAX_READ_BYTES)
    except FileNotFoundError:
        return _Read([], offset, 0)
    records: list[dict[str, Any]] = []
    position, bad = offset, 0
    for line in chunk.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # still being written, or torn (see tidy)
        record = _parse(line)
        if record is None:
            bad += 1
            log.error("intake journal %s: unreadable line at byte %s skipped (%r…)",
                      path.name, position, line[:120])
        elif record["t"] >= cutoff:
            break
        else:
            records.append(record)
        position += len(line)
    return _Read(records, position, bad)


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    for name, kind in FIELDS.items():
        if not isinstance(record.get(name), kind):
            return None
    return record


def _journal_files(folder: Path | None) -> list[Path]:
    if folder is None:
        return []
    try:
        return sorted(folder.glob(f"*{SUFFIX}"))
    except OSError:
        return []


_taken_sizes: dict[tuple[str, str], int] = {}


def has_unread(storage_path: str) -> bool:
    """Whether a journal may hold lines not yet in the inbox (no database read).

    A file that has grown past what this process last saw taken counts as unread; the
    caller's ``take`` then looks at the real offsets. Costs one ``listdir`` when there
    is no journal at all, which is every day without a surge.
    """
    folder = folder_for(storage_path)
    if folder is None:
        return False
    try:
        names = [name for name in os.listdir(folder) if name.endswith(SUFFIX)]
    except OSError:
        return False
    for name in names:
        try:
            size = os.stat(folder / name).st_size
        except OSError:
            continue
        if size > _taken_sizes.get((storage_path, name), 0):
            return True
    return False


def unread_count(db: Database, storage_path: str) -> int:
    """Complete lines written and not yet taken (acknowledged, not yet in the inbox)."""
    known = _known(db)
    total = 0
    for path in _journal_files(folder_for(storage_path)):
        try:
            with path.open("rb") as file:
                file.seek(known.get(path.name, (0, 0))[0])
                total += file.read().count(b"\n")
        except OSError:
            continue
    return total


def waiting_count(db: Database, storage_path: str) -> int:
    """Messages acknowledged first and not yet handled: queued in the inbox, or still
    only in a journal (``/healthz``'s ``messages_queued``)."""
    return inbox.count_queued(db) + unread_count(db, storage_path)


def tidy(db: Database, storage_path: str) -> int:
    """Delete files fully taken whose writer is gone (``.bad`` when a line was skipped or
    the last one is torn); how many files were put away."""
    done = 0
    known = _known(db)
    folder = folder_for(storage_path)
    for path in _journal_files(folder):
        offset, bad = known.pop(path.name, (0, 0))
        if _put_away(path, offset, bad):
            _forget(db, path.name)
            done += 1
    for name in known:  # a file put away by another process
        if folder is not None and not (folder / name).exists():
            _forget(db, name)
    return done


def _known(db: Database) -> dict[str, tuple[int, int]]:
    """Each journal file's taken offset and count of unreadable lines, by name."""
    return {row[0]: (row[1], row[2]) for row in
            db.execute("SELECT name, offset, bad FROM intake_files").fetchall()}


def _forget(db: Database, name: str) -> None:
    with write_transaction(db):
        db.execute("DELETE FROM intake_files WHERE name = ?", [name])


def _put_away(path: Path, offset: int, bad: int) -> bool:
    """Remove (or keep as .bad) a file whose writer has gone and whose lines are all taken."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer still lives
        rest = os.pread(fd, MAX_READ_BYTES, offset)
        if b"\n" in rest:
            return False  # lines still to take
        if rest or bad:
            log.error("intake journal %s: %s unreadable line(s)%s; kept as %s.bad", path.name,
                      bad, " and a torn last line" if rest else "", path.name)
            os.rename(path, path.with_name(path.name + ".bad"))
        else:
            path.unlink()
        return True
    finally:
        os.close(fd)
