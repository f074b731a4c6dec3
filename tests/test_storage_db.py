"""The storage layer's write path: transactions, and checkpoints off the request's thread."""

from __future__ import annotations

import os
import sqlite3
import threading

from storage import db as storage_db


def test_checkpoints_run_in_a_background_thread_and_copy_the_wal(tmp_path) -> None:
    # The commit that crosses the threshold must not pay for the checkpoint (a p99
    # spike under load): it only asks; the process's checkpoint thread copies the pages.
    path = tmp_path / "c.db"
    db = storage_db.connect(path)
    db.execute("CREATE TABLE blobs (b BLOB)")
    size_before = os.path.getsize(path)
    requester = threading.get_ident()
    for _ in range(storage_db.CHECKPOINT_EVERY_COMMITS):
        with storage_db.write_transaction(db):
            db.execute("INSERT INTO blobs VALUES (?)", [os.urandom(2000)])
    checkpointer = storage_db._checkpointer(str(path))
    assert checkpointer.done.wait(timeout=10), "no checkpoint ran"
    assert os.path.getsize(path) > size_before + 100 * 1000  # the rows reached the main file
    worker = [t for t in threading.enumerate() if t.name == "wal-checkpoint"]
    assert worker and all(t.ident != requester for t in worker)
    db.conn.close()


def test_a_failed_transaction_leaves_nothing_and_releases_the_writer_turn(tmp_path) -> None:
    db = storage_db.connect(tmp_path / "t.db")
    db.execute("CREATE TABLE t (x INTEGER)")
    try:
        with storage_db.write_transaction(db):
            db.execute("INSERT INTO t VALUES (1)")
            raise ValueError("handler bug")
    except ValueError:
        pass
    with storage_db.write_transaction(db):  # would block forever if the turn were kept
        db.execute("INSERT INTO t VALUES (2)")
    assert [r[0] for r in db.conn.execute("SELECT x FROM t")] == [2]
    db.conn.close()


def test_storage_trouble_is_told_apart_from_a_bad_query(tmp_path) -> None:
    # A disk-full error inside a handler must keep the message for the recovery job;
    # a handler's own bad SQL is a bug (message marked failed). Both are OperationalError.
    db = storage_db.connect(tmp_path / "full.db")
    db.execute("CREATE TABLE blobs (b BLOB)")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    errors = []
    for statement in ("INSERT INTO blobs VALUES (zeroblob(100000))", "SELECT * FROM nowhere"):
        try:
            db.execute(statement)
        except sqlite3.OperationalError as error:
            errors.append(error)
    full, bad_query = errors
    assert storage_db.is_storage_trouble(full)
    assert not storage_db.is_storage_trouble(bad_query)
    assert not storage_db.is_storage_trouble(ValueError("not sqlite"))
    db.conn.close()
