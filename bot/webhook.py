"""POST/GET /wechat: signature → decrypt → parse → keep → handle → reply.

A message is kept in the inbox and handled in one write transaction (one turn
of the database's single write lock per message). The handler runs inside a
savepoint: a handler crash rolls back only the handler's partial work, and the
message is committed as ``failed`` with an apology. A worker killed before the
commit has answered nothing, so WeChat retries and the retry finds no trace of
the first attempt. The delivery that inserted the row handles it; a retried
delivery of the same key (also one arriving at the same moment from another
worker) waits for that reply and returns it, so a retry never creates a second
ticket. If storage fails while handling (disk full), the message is kept alone
as ``new`` and the recovery job (``recover_unhandled``) handles it later.

In a surge (bot/surge.py) a message is only kept, appended to this worker's
intake journal (storage/intake.py), and acknowledged; the drain (bot/drain.py)
takes it into the inbox as ``queued``, ``handle_queued`` handles it and the reply
goes out through the outbox.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, request
from sqlite_utils import Database
from wechatpy.crypto import WeChatCrypto

from bot import surge, wxprotocol
from bot.wxprotocol import ProtocolError
from handlers import handle, new_context
from handlers.context import Incoming
from handlers.conversation import warm
from handlers.texts import say
from storage import clock, inbox, intake, outbox
from storage.db import get_db, is_storage_trouble, savepoint, write_transaction

log = logging.getLogger(__name__)
blueprint = Blueprint("webhook", __name__)
RETRY_WAIT_SECONDS = 4.0    # WeChat gives up on a delivery after 5 s
RETRY_POLL_SECONDS = 0.05
T = TypeVar("T")


Crypto = WeChatCrypto | None


def _cryptos() -> tuple[tuple[str, Crypto], ...]:
    """(token, crypto) for each accepted credential pair, current first."""
    config = current_app.config["BOT"]
    return _cryptos_for(tuple(config.credentials), config["wechat.appid"])


@functools.cache
def _cryptos_for(credentials: tuple[tuple[str, str], ...],
                 appid: str) -> tuple[tuple[str, Crypto], ...]:
    """Built once per set of credentials, not on every request."""
    return tuple((token, WeChatCrypto(token, key, appid) if key else None)
                 for token, key in credentials)


def _first_accepted(check: Callable[[str, Crypto], T]) -> tuple[T, Crypto]:
    """Run a signature check with the current credentials, then the previous ones
    (during a token or key rotation); a request signed with neither gets the 403."""
    pairs = _cryptos()
    for index, (token, crypto) in enumerate(pairs):
        try:
            return check(token, crypto), crypto
        except ProtocolError as error:
            if error.status != 403 or index == len(pairs) - 1:
                raise
    raise AssertionError("credentials are never empty")


@blueprint.errorhandler(ProtocolError)
def _refuse(error: ProtocolError) -> Response:
    log.info("webhook refused: %s (%s)", error.status, error.reason)
    return Response(error.reason, status=error.status, mimetype="text/plain")


@blueprint.get("/wechat")
def verify() -> Response:
    args = request.args.to_dict()
    echo, _ = _first_accepted(lambda token, crypto: wxprotocol.verify_url(token, args))
    return Response(echo, mimetype="text/plain")


@blueprint.post("/wechat")
def receive() -> Response:
    started = time.monotonic()
    config = current_app.config["BOT"]
    limit = config["wechat.max_body_bytes"]
    if request.content_length is not None and request.content_length > limit:
        raise ProtocolError(413, "body too large")
    body = request.get_data(cache=False)  # MAX_CONTENT_LENGTH stops chunked bodies too
    args = request.args.to_dict()
    envelope, crypto = _first_accepted(lambda token, crypto: wxprotocol.unwrap(
        body, args, crypto, config.message_mode, token,
        config["wechat.plaintext_max_age_seconds"],
    ))
    message = wxprotocol.parse(envelope.xml)
    incoming = wxprotocol.to_incoming(message)
    gauge = surge.gauge_for(config)
    acknowledged_first = gauge.arrive()
    if acknowledged_first:
        text = acknowledge(config, incoming, envelope.xml.decode("utf-8"))
        gauge.acknowledged(incoming.key)  # one log line a second, not one a message
    else:
        text = answer(incoming, envelope.xml.decode("utf-8"))
    xml = wxprotocol.render(message, text, envelope, crypto)
    log.log(logging.DEBUG if acknowledged_first else logging.INFO,
            "message %s (%s, %s) answered in %.0f ms", incoming.key, incoming.msg_type,
            "aes" if envelope.encrypted else "plain", (time.monotonic() - started) * 1000)
    return Response(xml, mimetype="application/xml" if text else "text/plain")


def acknowledge(config: Any, incoming: Incoming, raw: str) -> str:
    """In a surge: keep the message with one append to the intake journal and acknowledge
    it; the drain handles it. If the journal cannot be written, the inbox keeps it."""
    acknowledgement = say("queued")
    path = config["storage.path"]
    try:
        intake.journal_for(path).append(incoming.key, incoming.openid, incoming.msg_type,
                                        clock.iso(clock.now()), raw, acknowledgement)
        return acknowledgement
    except OSError as error:
        log.error("intake journal not written for message %s (%s): keeping it in the inbox",
                  incoming.key, error)
    try:
        db = get_db(path)
        with write_transaction(db):
            reply = _queue(db, incoming, raw)
    except sqlite3.Error as error:
        log.error("cannot store message %s: %s", incoming.key, error)
        return say("storage_unavailable")
    return _stored_reply(db, incoming) if reply is None else reply


def answer(incoming: Incoming, raw: str) -> str:
    """Keep and handle one message exactly once; return the passive reply text."""
    config = current_app.config["BOT"]
    warm(incoming)  # CPU-heavy classification outside the write lock
    try:
        db = get_db(config["storage.path"])
        reply = _keep_and_handle(db, config, incoming, raw)
    except sqlite3.Error as error:
        log.error("cannot store message %s: %s", incoming.key, error)
        return say("storage_unavailable")
    if reply is None:
        log.info("retried delivery %s: stored reply returned", incoming.key)
        return _stored_reply(db, incoming)
    return reply


def _keep_and_handle(db: Database, config: Any, incoming: Incoming, raw: str) -> str | None:
    """Keep the message and handle it in one write transaction; None when this key
    was already kept (a retry).

    A storage error after the message was kept (disk full while handling) rolls
    everything back; the message is then kept alone as ``new`` for the recovery
    job and the citizen gets the apology. Errors before that (the database
    cannot be written at all) reach the caller.
    """
    handling = False
    try:
        with write_transaction(db):
            surge_on = config["surge.mode"] != "off"
            if surge_on and intake.has_unread(config["storage.path"]):
                intake.take(db, config["storage.path"], settle_seconds=0)  # a retry, or
                # this citizen's earlier message, may still be in a journal only
            if inbox.find(db, incoming.key) is not None:
                return None
            if surge_on and inbox.has_queued(db, incoming.openid):
                return _queue(db, incoming, raw)  # behind this citizen's queued message
            inbox.keep(db, incoming.key, incoming.openid, incoming.msg_type, raw, clock.now())
            handling = True
            reply, number = _run_handler(db, config, incoming)
    except sqlite3.Error:
        if not handling:
            raise
        log.exception("cannot finish message %s (kept as new)", incoming.key)
        return say("apology") if _keep(db, incoming, raw) else None
    if number:
        log.info("message %s → ticket %s", incoming.key, number)
    return reply


def _queue(db: Database, incoming: Incoming, raw: str) -> str | None:
    """Keep the message for the drain and acknowledge it (inside the caller's transaction);
    None for a retry."""
    acknowledgement = say("queued")
    kept = inbox.keep_queued(db, incoming.key, incoming.openid, incoming.msg_type, raw,
                             clock.now(), acknowledgement)
    return acknowledgement if kept else None


def _keep(db: Database, incoming: Incoming, raw: str) -> bool:
    """Commit the message alone as ``new``; False when this key was already kept."""
    with write_transaction(db):
        if inbox.find(db, incoming.key) is not None:
            return False
        inbox.keep(db, incoming.key, incoming.openid, incoming.msg_type, raw, clock.now())
    return True


def _stored_reply(db: Database, incoming: Incoming) -> str:
    """The first delivery's reply, waiting while it is still being handled.

    A message still ``new`` long after it arrived was kept by a worker that died
    before handling it: this retry takes it over (``_handle`` is idempotent).
    """
    deadline = time.monotonic() + RETRY_WAIT_SECONDS
    kept = inbox.find(db, incoming.key)
    while kept is not None and kept["status"] == "new" and time.monotonic() < deadline:
        if inbox.is_stale(kept, clock.now()):
            break
        time.sleep(RETRY_POLL_SECONDS)
        kept = inbox.find(db, incoming.key)
    if kept is None or kept["openid"] != incoming.openid:
        log.warning("message key %s reused by another sender: no reply", incoming.key)
        return ""
    if kept["status"] == "new" and inbox.is_stale(kept, clock.now()):
        log.warning("message %s was never handled (worker died?): handling it now",
                    incoming.key)
        return _handle(db, current_app.config["BOT"], incoming)
    return kept["reply"] or ""


def _handle(db: Database, config: Any, incoming: Incoming, passive: bool = True) -> str:
    """Handle a message kept earlier (a stale one, a queued one, or by the recovery job).

    Idempotent: under the write lock it first checks the message is still
    ``new`` or ``queued``, so a retry taking over, the drain and the recovery job can
    never handle one message twice. Not ``passive``: WeChat is no longer waiting, and
    the whole reply goes through the outbox in the same transaction.
    """
    number = None
    try:
        with write_transaction(db):
            kept = inbox.find(db, incoming.key)
            if kept is not None and kept["status"] not in ("new", "queued"):
                return (kept["reply"] or "") if passive else ""
            # a retry of a message acknowledged first gets that acknowledgement again, not
            # the full reply the outbox is already carrying
            answered = kept["reply"] if kept is not None and kept["status"] == "queued" else None
            reply, number = _run_handler(db, config, incoming, passive, answered)
    except sqlite3.Error:
        log.exception("cannot finish message %s (kept as new)", incoming.key)
        return say("apology")
    if number:
        log.info("message %s → ticket %s", incoming.key, number)
    return reply


def _run_handler(db: Database, config: Any, incoming: Incoming, passive: bool = True,
                 answered: str | None = None) -> tuple[str, str | None]:
    """The conversation inside the caller's transaction: (reply, ticket number).

    The handler runs in a savepoint; if it raises, its writes are undone and the
    message is marked ``failed`` with the apology. Storage trouble (a disk full, a
    read-only file) is no handler bug: it propagates, whether or not SQLite ended
    the transaction, and the caller keeps the message for the recovery job.
    """
    try:
        with savepoint(db):  # a crash undoes the handler's writes only
            ctx = new_context(incoming, db, config, clock.now())
            text = handle(ctx)
            if passive:
                reply = _passive_part(db, config, incoming, text, ctx.ticket_number)
            else:
                reply = _send_later(db, config, incoming, text, ctx.ticket_number)
    except Exception as error:  # any handler bug: the citizen still gets an answer
        if not db.conn.in_transaction or is_storage_trouble(error):
            raise  # storage trouble (disk full): the caller keeps the message for later
        log.exception("handler failed for message %s", incoming.key)
        apology = _mark_failed(db, incoming, error)
        if not passive:
            outbox.enqueue_text(db, incoming.openid, apology, dedupe_key=f"later:{incoming.key}:1")
        return apology, None
    inbox.finish(db, incoming.key, answered or reply, ctx.ticket_number)
    return reply, ctx.ticket_number


def recover_unhandled(db: Database, config: Any) -> int:
    """Handle messages kept but never handled (a worker killed mid-request).

    WeChat has given up on those requests, so the reply goes out through the
    outbox as a customer-service message. Called by the scheduler; it also takes in
    the intake journals, in case the drain is not running.
    """
    intake.take(db, config["storage.path"])
    intake.tidy(db, config["storage.path"])
    recovered = 0
    for row in inbox.stale_new(db, clock.now()):
        incoming = _incoming_of(db, row)
        if incoming is None:
            continue
        _handle(db, config, incoming, passive=False)
        log.warning("recovered unhandled message %s", row["key"])
        recovered += 1
    return recovered


def handle_queued(db: Database, config: Any, limit: int = 100) -> int:
    """Handle queued messages in arrival order (the drain's work); how many were taken.

    Each is classified outside the write lock, then handled in its own transaction;
    its reply goes out through the outbox.
    """
    rows = inbox.queued(db, limit)
    for row in rows:
        incoming = _incoming_of(db, row)
        if incoming is None:
            continue
        warm(incoming)
        _handle(db, config, incoming, passive=False)
    return len(rows)


def _incoming_of(db: Database, row: dict[str, Any]) -> Incoming | None:
    """A kept message parsed again; None (and marked failed) when its XML cannot be."""
    try:
        return wxprotocol.to_incoming(wxprotocol.parse(row["raw"].encode("utf-8")))
    except wxprotocol.ProtocolError:
        with write_transaction(db):
            db.execute("UPDATE messages SET status = 'failed', error = 'unparseable' "
                       "WHERE key = ? AND status IN ('new', 'queued')", [row["key"]])
        return None


def _send_later(db: Database, config: Any, incoming: Incoming, text: str,
                number: str | None) -> str:
    """The whole reply as customer-service messages, in order (WeChat stopped waiting)."""
    parts = wxprotocol.split_reply(text, config["wechat.reply_max_bytes"]) if text else []
    for index, part in enumerate(parts, start=1):
        outbox.enqueue_text(db, incoming.openid, part, ticket_number=number,
                            dedupe_key=f"later:{incoming.key}:{index}")
    return text


def _mark_failed(db: Database, incoming: Incoming, error: Exception) -> str:
    reply = say("apology")
    db.execute("UPDATE messages SET status = 'failed', error = ?, reply = ? WHERE key = ?",
               [f"{type(error).__name__}: {error}"[:2000], reply, incoming.key])
    return reply


def _passive_part(db: Database, config: Any, incoming: Incoming, text: str,
                  number: str | None) -> str:
    """The first part of a long reply goes back now; the rest through the outbox."""
    if not text:
        return ""
    limit = config["wechat.reply_max_bytes"]
    note = say("reply_continued")
    if len(text.encode()) <= limit:
        return text
    parts = wxprotocol.split_reply(text, limit - len(note.encode()) - 1)
    for index, part in enumerate(parts[1:], start=2):
        outbox.enqueue_text(db, incoming.openid, part, ticket_number=number,
                            dedupe_key=f"reply:{incoming.key}:{index}")
    return f"{parts[0]}\n{note}"
