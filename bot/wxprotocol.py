"""WeChat's message protocol around wechatpy: checks, unwrap, parse, render.

Only this module and the webhook know XML. The known wechatpy 1.8.18
pitfalls are handled here: no DOCTYPE/entity declaration reaches a parser
(wechatpy parses before it checks anything), decryption and parsing errors of
every type become a 400, every field is type-checked (duplicated tags become
lists), reply text with ``]]>`` is split across CDATA sections, and long
replies are cut into parts.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from handlers.context import Incoming

CDATA_SECTION = re.compile(rb"<!\[CDATA\[.*?\]\]>", re.S)
XML_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml\s[^<>]*\?>")
MARKUP_DECLARATION = re.compile(rb"<[!?]")
OPENID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
DIGITS = re.compile(r"[0-9]{1,20}")
NONCE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
REQUIRED_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
MODES = ("plaintext", "compatible", "safe")


class ProtocolError(Exception):
    """A request to refuse; ``status`` is 400, 403 or 413."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Envelope:
    """A verified request: the plaintext XML, the mode it came in, and what replies need."""

    xml: bytes
    encrypted: bool
    nonce: str
    timestamp: str


def verify_url(token: str, args: dict[str, str]) -> str:
    """URL verification: the echostr when the signature is right."""
    _check_plain_signature(token, args)
    return args.get("echostr", "")


def _check_plain_signature(token: str, args: dict[str, str]) -> None:
    try:
        check_signature(token=token, signature=args.get("signature", ""),
                        timestamp=args.get("timestamp", ""), nonce=args.get("nonce", ""))
    except InvalidSignatureException:
        raise ProtocolError(403, "invalid signature") from None


def reject_unsafe(body: bytes) -> None:
    """Refuse DOCTYPE, entity declarations, comments and PIs before any parser sees them.

    Markup declarations are only legal outside CDATA, so CDATA sections are
    removed first: a complaint quoting ``<!DOCTYPE`` is still accepted.
    WeChat sends UTF-8 only; any other encoding could hide a declaration.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(400, "body is not UTF-8") from None
    outside = CDATA_SECTION.sub(b"", XML_DECLARATION.sub(b"", body, count=1))
    if MARKUP_DECLARATION.search(outside):
        raise ProtocolError(400, "DOCTYPE, entity declarations, comments and PIs are refused")


def unwrap(body: bytes, args: dict[str, str], crypto: WeChatCrypto | None, mode: str,
           token: str, max_age: int, now: float | None = None) -> Envelope:
    """Check signatures and decrypt; returns the plaintext message XML."""
    _check_plain_signature(token, args)
    nonce, timestamp = args.get("nonce", ""), args.get("timestamp", "")
    if not NONCE.fullmatch(nonce) or not DIGITS.fullmatch(timestamp):
        raise ProtocolError(400, "invalid nonce or timestamp")
    reject_unsafe(body)
    if args.get("encrypt_type", "raw").lower() == "aes":
        if crypto is None or mode == "plaintext":
            raise ProtocolError(400, "safe mode is not configured (plaintext mode)")
        xml = _decrypt(crypto, body, args.get("msg_signature", ""), timestamp, nonce)
        reject_unsafe(xml)
        return Envelope(xml, True, nonce, timestamp)
    if mode == "safe":
        raise ProtocolError(400, "plaintext messages are refused in safe mode")
    _check_age(timestamp, max_age, now)
    return Envelope(body, False, nonce, timestamp)


def _decrypt(crypto: WeChatCrypto, body: bytes, signature: str, timestamp: str,
             nonce: str) -> bytes:
    """wechatpy's decryption, with its many exception types mapped to 403/400."""
    outer = _outer_fields(body)
    try:
        xml = crypto.decrypt_message(outer, signature, timestamp, nonce)
    except InvalidSignatureException:
        raise ProtocolError(403, "invalid msg_signature") from None
    except Exception:  # expat, KeyError, TypeError, ValueError, AppID …
        raise ProtocolError(400, "cannot decrypt message") from None
    return xml.encode("utf-8") if isinstance(xml, str) else xml


def _outer_fields(body: bytes) -> dict[str, Any]:
    """The safe-mode envelope; exactly one ``Encrypt`` string (wechatpy would sign a list)."""
    try:
        outer = xmltodict.parse(body)["xml"]
    except Exception:  # expat and xmltodict raise many types on broken input
        raise ProtocolError(400, "unreadable XML") from None
    if not isinstance(outer, dict) or not isinstance(outer.get("Encrypt"), str):
        raise ProtocolError(400, "Encrypt missing or repeated")
    return outer


def _check_age(timestamp: str, max_age: int, now: float | None) -> None:
    """Plaintext bodies are not signed: refuse replays outside the time window."""
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > max_age:
        raise ProtocolError(403, "timestamp outside the accepted window")


def parse(xml: bytes) -> BaseMessage:
    """wechatpy's parser with every exception and every field type checked."""
    try:
        message = parse_message(xml)
        fields = message._data
    except Exception:  # xmltodict/expat raise many types on broken input
        raise ProtocolError(400, "unreadable XML") from None
    if not isinstance(fields, dict):
        raise ProtocolError(400, "unreadable XML")
    _check_fields(fields)
    return message


def _check_fields(fields: dict) -> None:
    """Duplicated tags become lists and nested tags dicts in xmltodict: refuse both."""
    for name in REQUIRED_FIELDS:
        if not isinstance(fields.get(name), str):
            raise ProtocolError(400, f"field {name} missing or repeated")
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise ProtocolError(400, f"field {name} repeated or nested")
    if not OPENID.fullmatch(fields["FromUserName"]) or not OPENID.fullmatch(fields["ToUserName"]):
        raise ProtocolError(400, "invalid user name")
    if not DIGITS.fullmatch(fields["CreateTime"]):
        raise ProtocolError(400, "invalid CreateTime")
    if fields.get("MsgId") is not None and not DIGITS.fullmatch(fields["MsgId"]):
        raise ProtocolError(400, "invalid MsgId")


def message_key(fields: dict[str, str]) -> str:
    """MsgId for messages; FromUserName:CreateTime:Event for events (WeChat's own rule)."""
    if fields.get("MsgId"):
        return fields["MsgId"]
    kind = fields.get("Event") or fields.get("MsgType")
    return f"{fields['FromUserName']}:{fields['CreateTime']}:{kind}"


def to_incoming(message: BaseMessage) -> Incoming:
    """The handler's view of a message: plain fields, voice as its recognised text."""
    fields: dict[str, str] = {k: v or "" for k, v in message._data.items()}
    msg_type = fields["MsgType"].lower()
    text = fields.get("Content", "")
    if msg_type == "voice":
        text = fields.get("Recognition", "")
    return Incoming(
        key=message_key(fields), openid=fields["FromUserName"], msg_type=msg_type, text=text,
        event=fields.get("Event", ""), event_key=fields.get("EventKey", ""),
        media_id=fields.get("MediaId", ""), pic_url=fields.get("PicUrl", ""),
        latitude=_number(fields.get("Location_X")), longitude=_number(fields.get("Location_Y")),
        label=fields.get("Label", "")[:200],
    )


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def split_reply(text: str, max_bytes: int) -> list[str]:
    """Cut a long reply at line ends (or anywhere, for one huge line) into parts."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > max_bytes:
            cut = _cut_point(line, max_bytes)
            parts, current = _flush(parts, current), ""
            parts.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode()) > max_bytes:
            parts, current = _flush(parts, current), ""
        current += line
    return _flush(parts, current) or [""]


def _cut_point(line: str, max_bytes: int) -> int:
    """The longest prefix within ``max_bytes`` that does not cut a UTF-8 character."""
    cut = len(line.encode()[:max_bytes].decode("utf-8", "ignore"))
    return max(cut, 1)


def _flush(parts: list[str], current: str) -> list[str]:
    if current.strip():
        parts.append(current.rstrip("\n"))
    return parts


def cdata_safe(text: str) -> str:
    """wechatpy puts text in one CDATA section; ``]]>`` would end it early."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def render(message: BaseMessage, text: str, envelope: Envelope,
           crypto: WeChatCrypto | None) -> str:
    """Reply XML in the mode the request came in; ``]]>`` cannot break the CDATA."""
    if not text:
        return "success"
    xml = TextReply(content=cdata_safe(text), message=message).render()
    if envelope.encrypted and crypto is not None:
        return crypto.encrypt_message(xml, envelope.nonce, envelope.timestamp)
    return xml
