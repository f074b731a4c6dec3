"""Online backup while a writer keeps writing; restore refused while the database is open."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot import backup
from bot.cli import main
from storage import clock
from storage.db import close_all, connect, write_transaction


def _count(path: Path, table: str = "messages") -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def _insert(db, n: int) -> None:  # noqa: ANN001
    with write_transaction(db):
        db.execute("INSERT INTO messages (key, openid, msg_type, received_at, raw)"
                   " VALUES (?,?,?,?,?)", [f"k{n}", "oWriter", "text",
                                           clock.iso(clock.now()), "x" * 500])


def _writer(path: str, stop: threading.Event, written: list[int]) -> None:
    db = connect(path)
    try:
        while not stop.is_set():
            _insert(db, len(written))
            written.append(len(written))
    finally:
        db.conn.close()


def test_backup_while_writing_is_consistent(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    connect(source).conn.close()
    stop, written = threading.Event(), []
    thread = threading.Thread(target=_writer, args=(str(source), stop, written))
    thread.start()
    try:
        while len(written) < 50:
            threading.Event().wait(0.01)
        copies = []
        for n in range(5):
            before = len(written)
            copies.append((backup.backup(source, tmp_path / "out" / f"b{n}.db"), before))
    finally:
        stop.set()
        thread.join()
    for copy, before in copies:
        assert backup.integrity_problems(copy) == []
        assert before <= _count(copy) <= len(written)
        assert not Path(f"{copy}-wal").exists(), "a backup is one self-contained file"
    assert not list((tmp_path / "out").glob(".*partial"))


def test_backup_of_missing_database_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(backup.BackupError, match="no database"):
        backup.backup(tmp_path / "absent.db", tmp_path / "b.db")


def _hold_open(path: Path) -> subprocess.Popen:
    code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
            " c.execute('PRAGMA journal_mode=WAL'); c.execute('SELECT 1 FROM tickets').fetchall();"
            " print('open', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open"
    return proc


def test_restore_refused_while_open_then_done(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    db = connect(live)
    _insert(db, 1)
    db.conn.close()
    saved_copy = backup.backup(live, tmp_path / "copy.db")
    db = connect(live)
    _insert(db, 2)
    db.conn.close()
    close_all()
    holder = _hold_open(live)
    try:
        assert backup.in_use(live)
        with pytest.raises(backup.BackupError, match="stop the server"):
            backup.restore(saved_copy, live)
    finally:
        holder.communicate("")
    assert not backup.in_use(live)
    previous = backup.restore(saved_copy, live)
    assert _count(live) == 1, "the backup's content is back"
    assert previous is not None and _count(previous) == 2, "the replaced data is kept"
    assert backup.integrity_problems(live) == []


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(backup.BackupError, match="not restored"):
        backup.restore(junk, tmp_path / "live.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(backup.BackupError, match="not a Complaint Desk database"):
        backup.restore(other, tmp_path / "live.db")
    assert not (tmp_path / "live.db").exists()


def test_cli_backup_into_folder_and_prune(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    live = tmp_path / "data" / "complaints.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[wechat]\ntoken = "t"\n[storage]\npath = "{live}"\n'
                      f'backup_dir = "{tmp_path / "backups"}"\n', "utf-8")
    db = connect(live)
    _insert(db, 1)
    db.conn.close()
    folder = tmp_path / "backups"
    for moment in (1_700_000_000, 1_700_000_100, 1_700_000_200):
        name = backup.default_name(live, moment)
        backup.backup(live, folder / name)
    assert main(["backup", "--config", str(config), "--keep", "2"]) == 0
    out = capsys.readouterr().out
    assert "integrity ok" in out and "old backup removed" in out
    assert len(list(folder.glob("complaints-*.db"))) == 2
    target = tmp_path / "one.db"
    assert main(["backup", str(target), "--config", str(config)]) == 0
    assert _count(target) == 1
    assert main(["restore", str(target), "--config", str(config)]) == 0
    assert "previous database kept" in capsys.readouterr().out
