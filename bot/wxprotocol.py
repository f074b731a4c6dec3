"""WeChat's message protocol around wechatpy: checks, unwrap, parse, render.

Only this module and the webhook know XML. The known wechatpy 1.8.18
pitfalls are handled here: no DOCTYPE/entities reach the parser, every
field is type-checked (duplicated tags become lists), reply text with
``]]>`` is split across CDATA sections, long replies are cut into parts.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from handlers.context import Incoming

UNSAFE_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)|<\?xml-stylesheet", re.I)
OPENID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
REQUIRED_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")


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
    """No DOCTYPE or entity declarations: refuse before any parser sees them."""
    if UNSAFE_XML.search(body):
        raise ProtocolError(400, "DOCTYPE or entity declarations are not accepted")


def unwrap(body: bytes, args: dict[str, str], crypto: WeChatCrypto | None, mode: str,
           token: str, max_age: int, now: float | None = None) -> Envelope:
    """Check signatures and decrypt; returns the plaintext message XML."""
    _check_plain_signature(token, args)
    reject_unsafe(body)
    nonce, timestamp = args.get("nonce", ""), args.get("timestamp", "")
    if args.get("encrypt_type", "raw").lower() == "aes":
        if crypto is None:
            raise ProtocolError(400, "safe mode is not configured (no EncodingAESKey)")
        try:
            xml = crypto.decrypt_message(body, args.get("msg_signature", ""), timestamp, nonce)
        except InvalidSignatureException:
            raise ProtocolError(403, "invalid msg_signature") from None
        except Exception:  # wechatpy raises many types for bad ciphertext or XML
            raise ProtocolError(400, "cannot decrypt message") from None
        xml = xml.encode("utf-8") if isinstance(xml, str) else xml
        reject_unsafe(xml)
        return Envelope(xml, True, nonce, timestamp)
    if mode == "safe":
        raise ProtocolError(400, "plaintext messages are refused in safe mode")
    _check_age(timestamp, max_age, now)
    return Envelope(body, False, nonce, timestamp)


def _check_age(timestamp: str, max_age: int, now: float | None) -> None:
    """Plaintext bodies are not signed: refuse replays outside the time window."""
    try:
        sent = int(timestamp)
    except ValueError:
        raise ProtocolError(403, "invalid timestamp") from None
    if abs((now or time.time()) - sent) > max_age:
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
    for name in REQUIRED_FIELDS:
        if not isinstance(fields.get(name), str):
            raise ProtocolError(400, f"field {name} missing or repeated")
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise ProtocolError(400, f"field {name} repeated or nested")
    if not OPENID.match(fields["FromUserName"]) or not OPENID.match(fields["ToUserName"]):
        raise ProtocolError(400, "invalid user name")
    if not fields["CreateTime"].isdigit():
        raise ProtocolError(400, "invalid CreateTime")
    return message


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
    cut = len(line.encode()[:max_bytes].decode("utf-8", "ignore"))
    return max(cut, 1)


def _flush(parts: list[str], current: str) -> list[str]:
    if current.strip():
        parts.append(current.rstrip("\n"))
    return parts


def render(message: BaseMessage, text: str, envelope: Envelope,
           crypto: WeChatCrypto | None) -> str:
    """Reply XML in the mode the request came in; ``]]>`` cannot break the CDATA."""
    if not text:
        return "success"
    safe_text = text.replace("]]>", "]]]]><![CDATA[>")
    xml = TextReply(content=safe_text, message=message).render()
    if envelope.encrypted and crypto is not None:
        return crypto.encrypt_message(xml, envelope.nonce, envelope.timestamp)
    return xml
