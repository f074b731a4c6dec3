"""Chat-style test client: sign and post one message, return the reply text.

XML is built in one place here, by hand from the protocol, independently
of the code under test.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

_msg_ids = itertools.count(10_000_000_000)


def sign(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def build_xml(openid: str, msg_type: str, fields: dict[str, str], create_time: int | None = None,
              to_user: str = "gh_test") -> str:
    body = [f"<ToUserName><![CDATA[{to_user}]]></ToUserName>",
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>"]
    body += [f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items()]
    return "<xml>" + "".join(body) + "</xml>"


def reply_content(xml: str) -> str:
    if xml in ("", "success"):
        return ""
    root = ET.fromstring(xml)
    return root.findtext("Content") or ""


class Chat:
    """A citizen talking to the Flask app in plaintext mode."""

    def __init__(self, client, token: str, openid: str = "oCitizen0001") -> None:  # noqa: ANN001
        self.client = client
        self.token = token
        self.openid = openid
        self.last_response = None

    def post_xml(self, xml: str, timestamp: int | None = None, token: str | None = None):  # noqa: ANN201
        stamp = str(timestamp or int(time.time()))
        nonce = "12345"
        args = {"timestamp": stamp, "nonce": nonce,
                "signature": sign(token or self.token, stamp, nonce)}
        self.last_response = self.client.post("/wechat", query_string=args, data=xml.encode())
        return self.last_response

    def message(self, msg_type: str, fields: dict[str, str], openid: str | None = None) -> str:
        response = self.post_xml(build_xml(openid or self.openid, msg_type, fields))
        assert response.status_code == 200, response.get_data(as_text=True)
        return reply_content(response.get_data(as_text=True))

    def send(self, text: str, openid: str | None = None, msg_id: int | None = None) -> str:
        fields = {"Content": text, "MsgId": str(msg_id or next(_msg_ids))}
        return self.message("text", fields, openid)

    def event(self, event: str, key: str = "", openid: str | None = None) -> str:
        fields = {"Event": event}
        if key:
            fields["EventKey"] = key
        return self.message("event", fields, openid)

    def voice(self, recognition: str) -> str:
        return self.message("voice", {"MediaId": "m1", "Format": "amr",
                                      "Recognition": recognition,
                                      "MsgId": str(next(_msg_ids))})

    def image(self) -> str:
        return self.message("image", {"PicUrl": "http://127.0.0.1/p.jpg", "MediaId": "img1",
                                      "MsgId": str(next(_msg_ids))})

    def location(self, label: str) -> str:
        return self.message("location", {"Location_X": "28.4", "Location_Y": "117.9",
                                         "Scale": "15", "Label": label,
                                         "MsgId": str(next(_msg_ids))})
