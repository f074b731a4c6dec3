"""POST/GET /wechat: signature → decrypt → parse → keep → handle → reply.

The message is kept and handled in one write transaction: a retry either
finds the stored reply or waits for the first delivery to commit. A
handler crash rolls back its partial work, keeps the message as failed and
answers with an apology.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Blueprint, Response, current_app, request
from wechatpy.crypto import WeChatCrypto

from bot import wxprotocol
from bot.wxprotocol import ProtocolError
from handlers import handle, new_context
from handlers.texts import say
from storage import clock, inbox, outbox
from storage.db import get_db, write_transaction

log = logging.getLogger(__name__)
blueprint = Blueprint("webhook", __name__)


def _crypto() -> WeChatCrypto | None:
    config = current_app.config["BOT"]
    if not config["wechat.encoding_aes_key"]:
        return None
    return WeChatCrypto(config["wechat.token"], config["wechat.encoding_aes_key"],
                        config["wechat.appid"])


@blueprint.errorhandler(ProtocolError)
def _refuse(error: ProtocolError) -> Response:
    log.info("webhook refused: %s (%s)", error.status, error.reason)
    return Response(error.reason, status=error.status, mimetype="text/plain")


@blueprint.get("/wechat")
def verify() -> Response:
    config = current_app.config["BOT"]
    echo = wxprotocol.verify_url(config["wechat.token"], request.args.to_dict())
    return Response(echo, mimetype="text/plain")


@blueprint.post("/wechat")
def receive() -> Response:
    config = current_app.config["BOT"]
    crypto = _crypto()
    body = request.get_data(cache=False)
    envelope = wxprotocol.unwrap(
        body, request.args.to_dict(), crypto, config.message_mode, config["wechat.token"],
        config["wechat.plaintext_max_age_seconds"],
    )
    message = wxprotocol.parse(envelope.xml)
    incoming = wxprotocol.to_incoming(message)
    text = answer(incoming, envelope.xml.decode("utf-8", "replace"))
    xml = wxprotocol.render(message, text, envelope, crypto)
    return Response(xml, mimetype="application/xml" if text else "text/plain")


def answer(incoming, raw: str) -> str:  # noqa: ANN001
    """Keep and handle one message exactly once; return the passive reply text."""
    config = current_app.config["BOT"]
    db = get_db(config["storage.path"])
    now = clock.now()
    try:
        with write_transaction(db):
            kept = inbox.find(db, incoming.key)
            if kept is not None:
                log.info("retried delivery %s: stored reply returned", incoming.key)
                return kept["reply"] or ""
            inbox.keep(db, incoming.key, incoming.openid, incoming.msg_type, raw, now)
            try:
                with db.atomic():
                    ctx = new_context(incoming, db, config, now)
                    text = handle(ctx)
                    reply = _passive_part(db, config, incoming, text, ctx.ticket_number)
            except Exception:
                log.exception("handler failed for message %s", incoming.key)
                reply = say("apology")
                db.execute("UPDATE messages SET status='failed', error=?, reply=? WHERE key=?",
                           ["handler error (see log)", reply, incoming.key])
                return reply
            inbox.finish(db, incoming.key, reply, ctx.ticket_number)
            if ctx.ticket_number:
                log.info("message %s → ticket %s", incoming.key, ctx.ticket_number)
            return reply
    except sqlite3.OperationalError as error:
        log.error("cannot store message %s (%s): %s", incoming.key, error, raw)
        return say("storage_unavailable")


def _passive_part(db, config, incoming, text: str, number: str | None) -> str:  # noqa: ANN001
    """The first part of a long reply goes back now; the rest through the outbox."""
    parts = wxprotocol.split_reply(text, config["wechat.reply_max_bytes"]) if text else [""]
    if len(parts) == 1:
        return parts[0]
    for index, part in enumerate(parts[1:], start=2):
        outbox.enqueue_text(db, incoming.openid, part, ticket_number=number,
                            dedupe_key=f"reply:{incoming.key}:{index}")
    return f"{parts[0]}\n{say('reply_continued')}"
