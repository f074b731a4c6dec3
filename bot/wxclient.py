"""A WeChat-server-side client: builds signed (and encrypted) messages like WeChat does.

Used by ``simulate`` and the benchmarks. The protocol tests use their own
client written from the protocol documents (tests/protocol_client.py), not
this one, so a shared misunderstanding of the protocol cannot hide.
"""

from __future__ import annotations

import hashlib
import random
import string
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import requests
from wechatpy.crypto import WeChatCrypto


def message_xml(openid: str, to_user: str, msg_type: str, fields: dict[str, str],
                create_time: int | None = None) -> str:
    """One message as WeChat sends it (CDATA for text fields)."""
    parts = [f"<ToUserName><![CDATA[{to_user}]]></ToUserName>",
             f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
             f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
             f"<MsgType><![CDATA[{msg_type}]]></MsgType>"]
    for name, value in fields.items():
        parts.append(f"<{name}>{escape(str(value))}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class WebhookClient:
    """Posts messages to /wechat as the WeChat server would, and reads the reply text."""

    def __init__(self, base_url: str, token: str, aes_key: str = "", appid: str = "",
                 session: requests.Session | None = None) -> None:
        self.url = base_url.rstrip("/") + "/wechat"
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None
        self.session = session or requests.Session()

    def _signed_args(self) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = "".join(random.choices(string.digits, k=10))
        return {"timestamp": timestamp, "nonce": nonce,
                "signature": _sha1(self.token, timestamp, nonce)}

    def post(self, xml: str, timeout: float = 10) -> requests.Response:
        """Sign (and in safe mode encrypt) one message and post it."""
        args = self._signed_args()
        body = xml
        if self.crypto is not None:
            body = self.crypto.encrypt_message(xml, args["nonce"], args["timestamp"])
            args.update(encrypt_type="aes", msg_signature=_field(body, "MsgSignature"))
        return self.session.post(self.url, params=args, data=body.encode("utf-8"),
                                 timeout=timeout)

    def reply_text(self, response: requests.Response) -> str:
        """The Content of a reply, decrypting in safe mode ('' for 'success')."""
        response.raise_for_status()
        body = response.text
        if body in ("", "success"):
            return ""
        if self.crypto is not None:
            params = dict(parse_qsl(urlsplit(response.request.url).query))
            body = self.crypto.decrypt_message(body, _field(body, "MsgSignature"),
                                               params["timestamp"], params["nonce"])
        return _field(body, "Content")


def _field(xml: str, name: str) -> str:
    """One top-level field of a reply from our own server (trusted, no DOCTYPE)."""
    return ET.fromstring(xml).findtext(name) or ""
