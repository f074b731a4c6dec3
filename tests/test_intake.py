"""The surge's intake journal (storage/intake.py): each line taken into the inbox once,
in arrival order; nothing lost to a torn write, a dead writer or an unwritable folder."""

from __future__ import annotations

import logging
import os
import threading
import time

from bot import create_app
from handlers.texts import say
from storage import intake
from storage.db import get_db
from tests.chat import Chat, build_xml
from tests.conftest import TOKEN, make_config

ACK = "已收到"


def _db(tmp_path):  # noqa: ANN001, ANN202
    path = str(tmp_path / "complaints.db")
    return path, get_db(path)


def _append(journal: intake.Journal, key: str, openid: str = "oIntake0001") -> None:
    journal.append(key, openid, "text", "2026-11-26T05:00:00+08:00",
                   build_xml(openid, "text", {"Content": "投诉", "MsgId": key}), ACK)


def _keys(db) -> list[str]:  # noqa: ANN001
    return [r[0] for r in db.execute("SELECT key FROM messages ORDER BY rowid").fetchall()]


def test_lines_of_two_workers_are_taken_once_in_arrival_order(tmp_path):
    path, db = _db(tmp_path)
    first, second = intake.Journal(intake.folder_for(path)), intake.Journal(
        intake.folder_for(path))  # two workers: two files
    for n, journal in enumerate([first, second, first, second, second]):
        _append(journal, f"9000{n}")
    _append(first, "90001")  # a retry of a message the other worker kept
    assert len(list(intake.folder_for(path).glob("*.jsonl"))) == 2
    assert intake.has_unread(path) and intake.unread_count(db, path) == 6
    assert intake.take(db, path, settle_seconds=0) == 5
    assert _keys(db) == ["90000", "90001", "90002", "90003", "90004"]
    row = db.execute("SELECT status, reply FROM messages WHERE key = '90003'").fetchone()
    assert row == ("queued", ACK)
    assert intake.take(db, path, settle_seconds=0) == 0
    assert not intake.has_unread(path) and intake.unread_count(db, path) == 0


def test_a_line_younger_than_the_settle_time_waits_for_the_next_pass(tmp_path):
    path, db = _db(tmp_path)
    _append(intake.journal_for(path), "90100")
    assert intake.take(db, path, settle_seconds=1.0, now=time.time()) == 0
    assert intake.take(db, path, settle_seconds=1.0, now=time.time() + 2) == 1


def test_a_half_written_line_waits_for_its_end(tmp_path):
    path, db = _db(tmp_path)
    journal = intake.Journal(intake.folder_for(path))
    _append(journal, "90200")
    file = next(intake.folder_for(path).glob("*.jsonl"))
    whole = file.read_bytes()
    file.write_bytes(whole[:40])  # as a reader may catch a write in progress
    assert intake.take(db, path, settle_seconds=0) == 0
    file.write_bytes(whole)
    assert intake.take(db, path, settle_seconds=0) == 1


def test_an_unreadable_line_is_skipped_logged_and_its_file_kept_as_bad(tmp_path, caplog):
    path, db = _db(tmp_path)
    journal = intake.Journal(intake.folder_for(path))
    _append(journal, "90300")
    file = next(intake.folder_for(path).glob("*.jsonl"))
    with file.open("ab") as raw:
        raw.write(b'{"key": "90301", "openid"\n')
    _append(journal, "90302")
    with caplog.at_level(logging.ERROR, logger="storage.intake"):
        assert intake.take(db, path, settle_seconds=0) == 2
    assert "unreadable line" in caplog.text and _keys(db) == ["90300", "90302"]
    journal.close()  # the writer ends
    assert intake.tidy(db, path) == 1
    assert not file.exists() and file.with_name(file.name + ".bad").exists()


def test_a_file_is_deleted_only_once_taken_and_its_writer_gone(tmp_path):
    path, db = _db(tmp_path)
    journal = intake.Journal(intake.folder_for(path))
    _append(journal, "90400")
    file = next(intake.folder_for(path).glob("*.jsonl"))
    journal.close()
    assert intake.tidy(db, path) == 0 and file.exists()  # not taken yet
    other = intake.Journal(intake.folder_for(path))
    _append(other, "90401")
    intake.take(db, path, settle_seconds=0)
    assert intake.tidy(db, path) == 1 and not file.exists()  # its writer is gone
    assert len(list(intake.folder_for(path).glob("*.jsonl"))) == 1  # the live writer's
    assert db.execute("SELECT count(*) FROM intake_files").fetchone()[0] == 1
    _append(other, "90402")  # the live writer goes on writing to its file
    assert intake.take(db, path, settle_seconds=0) == 1


def test_a_torn_write_raises_and_the_next_message_starts_a_new_file(tmp_path, monkeypatch):
    path, db = _db(tmp_path)
    journal = intake.Journal(intake.folder_for(path))
    real_write = os.write
    monkeypatch.setattr(intake.os, "write", lambda fd, data: real_write(fd, data[:30]))
    try:
        _append(journal, "90500")
    except OSError as error:
        assert "part of a message" in str(error)
    else:
        raise AssertionError("a torn write must not pass for a kept message")
    monkeypatch.setattr(intake.os, "write", real_write)
    _append(journal, "90501")
    assert len(list(intake.folder_for(path).glob("*.jsonl"))) == 2
    assert intake.take(db, path, settle_seconds=0) == 1 and _keys(db) == ["90501"]
    assert intake.tidy(db, path) == 1  # the torn file: its writer let go of it
    assert len(list(intake.folder_for(path).glob("*.bad"))) == 1


def test_the_webhook_keeps_a_message_in_the_inbox_when_the_journal_cannot_be_written(
        tmp_path, caplog):
    config = make_config(tmp_path, surge="always")
    app = create_app(config)
    path = config["storage.path"]
    intake.folder_for(path).write_text("not a folder")  # the journal's folder cannot be made
    chat = Chat(app.test_client(), TOKEN)
    with caplog.at_level(logging.ERROR, logger="bot.webhook"):
        reply = chat.message("text", {"Content": "区民政局窗口没人", "MsgId": "90600"},
                             openid="oIntake0006")
    assert reply == say("queued") and "intake journal not written" in caplog.text
    row = get_db(path).execute("SELECT status FROM messages WHERE key = '90600'").fetchone()
    assert row == ("queued",)


def test_a_writer_moves_to_a_new_file_past_the_size_limit_and_the_old_one_is_put_away(
        tmp_path, monkeypatch):
    path, db = _db(tmp_path)
    monkeypatch.setattr(intake, "ROTATE_BYTES", 1)  # every message after the first
    journal = intake.Journal(intake.folder_for(path))
    _append(journal, "90700")
    _append(journal, "90701")
    files = sorted(intake.folder_for(path).glob("*.jsonl"))
    assert len(files) == 2
    assert intake.take(db, path, settle_seconds=0) == 2
    assert intake.tidy(db, path) == 1 and not files[0].exists() and files[1].exists()


def test_a_journal_deleted_under_a_live_writer_is_started_again(tmp_path):
    path, db = _db(tmp_path)
    journal = intake.Journal(intake.folder_for(path))
    _append(journal, "90800")
    intake.take(db, path, settle_seconds=0)
    for file in intake.folder_for(path).glob("*.jsonl"):
        file.unlink()  # an operator's clean-up while the server runs
    _append(journal, "90801")
    assert intake.take(db, path, settle_seconds=0) == 1 and _keys(db) == ["90800", "90801"]


def test_a_surge_with_no_room_anywhere_gets_the_apology_and_loses_nothing_it_acknowledged(
        tmp_path, caplog):
    config = make_config(tmp_path, surge="always")
    app = create_app(config)
    path = config["storage.path"]
    intake.folder_for(path).write_text("not a folder")  # the journal cannot be written ...
    db = get_db(path)
    db.execute("PRAGMA query_only = ON")  # ... nor the database (a full or read-only disk)
    chat = Chat(app.test_client(), TOKEN)
    try:
        with caplog.at_level(logging.ERROR, logger="bot.webhook"):
            reply = chat.message("text", {"Content": "区民政局窗口没人", "MsgId": "90900"},
                                 openid="oIntake0009")
        assert reply == say("storage_unavailable")  # not the acknowledgement: WeChat's
        assert "cannot store message 90900" in caplog.text  # retry will bring it back
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        db.execute("PRAGMA query_only = OFF")
    assert db.execute("SELECT count(*) FROM messages WHERE key = '90900'").fetchone()[0] == 0


def test_threads_appending_across_rotations_lose_nothing(tmp_path, monkeypatch):
    path, db = _db(tmp_path)
    monkeypatch.setattr(intake, "ROTATE_BYTES", 2000)  # a new file every few messages
    journal = intake.Journal(intake.folder_for(path))

    def writer(n: int) -> None:
        for i in range(150):
            _append(journal, f"91{n}{i:04d}", openid=f"oThread{n}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    folder = intake.folder_for(path)
    files = len(list(folder.glob("*.jsonl")))
    assert files >= 50  # it rotated all along
    assert intake.take(db, path, settle_seconds=0) == 600
    assert intake.tidy(db, path) == files and not list(folder.glob("*.jsonl*"))  # none torn
