"""A WeChat-server-side client: builds signed (and encrypted) messages like WeChat does.

Used by ``simulate`` and the benchmarks. The protocol tests use their own
client written from the protocol documents, not this one.
"""

from __future__ import annotations

import hashlib
import random
import string
import time
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
        signature = hashlib.sha1("".join(sorted([self.token, timestamp, nonce])).encode())
        return {"timestamp": timestamp, "nonce": nonce, "signature": signature.hexdigest()}

    def post(self, xml: str, timeout: float = 10) -> requests.Response:
        args = self._signed_args()
        body = xml
        if self.crypto is not None:
            encrypted = self.crypto.encrypt_message(xml, args["nonce"], args["timestamp"])
            signature = encrypted.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
            body = encrypted
            args.update(encrypt_type="aes", msg_signature=signature)
        return self.session.post(self.url, params=args, data=body.encode("utf-8"),
                                 timeout=timeout)

    def reply_text(self, response: requests.Response) -> str:
        """The Content of a reply, decrypting in safe mode ('' for 'success')."""
        response.raise_for_status()
        body = response.text
        if body in ("", "success"):
            return ""
        if self.crypto is not None:
            args = response.request.url.split("?", 1)[1]
            params = dict(item.split("=", 1) for item in args.split("&"))
            signature = body.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
            body = self.crypto.decrypt_message(body, signature, params["timestamp"],
                                               params["nonce"])
        import xmltodict

        return xmltodict.parse(body)["xml"].get("Content") or ""
