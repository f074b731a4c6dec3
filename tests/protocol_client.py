"""The WeChat server's side of the webhook protocol, written from the protocol documents.

Independent of the code under test: no wechatpy, no bot/wxclient.py, only
hashlib and the ``cryptography`` package. From 公众号 "接入指南" and
"消息加解密说明":

- signature = sha1 of the sorted, concatenated [token, timestamp, nonce];
- AES key = base64decode(EncodingAESKey + "="), 32 bytes; IV = its first 16 bytes;
  AES-256-CBC over 16 random bytes + 4-byte big-endian XML length + XML + AppID,
  padded PKCS#7-style to a multiple of 32 bytes (WeChat's block size, not AES's 16);
- msg_signature = sha1 of the sorted, concatenated [token, timestamp, nonce, Encrypt].

Also ``ServedBot``: ``python -m bot serve`` as a subprocess on a free port.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import requests
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ROOT = Path(__file__).resolve().parent.parent
WECHAT_BLOCK = 32
_msg_ids = itertools.count(int(time.time()) * 1000)


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the sorted parts joined without separator."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def next_msg_id() -> str:
    return str(next(_msg_ids))


def message_xml(openid: str, msg_type: str, fields: dict[str, str] | None = None,
                create_time: int | None = None, to_user: str = "gh_protocoltest") -> str:
    """A message as WeChat posts it: string fields in CDATA, numbers bare."""
    items = {"ToUserName": to_user, "FromUserName": openid,
             "CreateTime": str(create_time or int(time.time())), "MsgType": msg_type,
             **(fields or {})}
    return "<xml>" + "".join(_element(name, value) for name, value in items.items()) + "</xml>"


def _element(name: str, value: str) -> str:
    if value.isdigit():
        return f"<{name}>{value}</{name}>"
    return f"<{name}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{name}>"


def text_xml(openid: str, content: str, msg_id: str | None = None) -> str:
    return message_xml(openid, "text", {"Content": content, "MsgId": msg_id or next_msg_id()})


class AesCipher:
    """WeChat's message encryption with an EncodingAESKey and AppID."""

    def __init__(self, encoding_aes_key: str, appid: str) -> None:
        self.key = base64.b64decode(encoding_aes_key + "=")
        assert len(self.key) == 32, "EncodingAESKey must decode to 32 bytes"
        self.appid = appid

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, xml: str, random16: bytes | None = None) -> str:
        body = xml.encode("utf-8")
        plain = (random16 or secrets.token_bytes(16)) + struct.pack(">I", len(body)) + body
        plain += self.appid.encode("utf-8")
        pad = WECHAT_BLOCK - len(plain) % WECHAT_BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> tuple[str, str]:
        """(XML, AppID) from a base64 ciphertext."""
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
        pad = plain[-1]
        assert 1 <= pad <= WECHAT_BLOCK, f"bad padding {pad}"
        content = plain[16:-pad]
        (length,) = struct.unpack(">I", content[:4])
        return content[4:4 + length].decode("utf-8"), content[4 + length:].decode("utf-8")


@dataclass
class Result:
    """One HTTP exchange: status, raw body and (for a reply) its decoded fields."""

    status: int
    body: str
    encrypted: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def text(self) -> str:
        """The reply's Content ('' for 'success')."""
        return self.fields.get("Content", "")


class Transport(Protocol):
    def __call__(self, method: str, params: dict[str, str], body: bytes) -> tuple[int, str]: ...


def http_transport(base_url: str, timeout: float = 10) -> Transport:
    """Real HTTP to a served instance."""
    session = requests.Session()

    def send(method: str, params: dict[str, str], body: bytes) -> tuple[int, str]:
        response = session.request(method, f"{base_url}/wechat", params=params, data=body,
                                    timeout=timeout, headers={"Content-Type": "text/xml"})
        return response.status_code, response.text

    return send


def flask_transport(client) -> Transport:  # noqa: ANN001 - a Flask test client
    """In-process, through Flask's test client."""
    def send(method: str, params: dict[str, str], body: bytes) -> tuple[int, str]:
        response = client.open("/wechat", method=method, query_string=params, data=body)
        return response.status_code, response.get_data(as_text=True)

    return send


class WeChatServer:
    """Signs, encrypts and posts messages as WeChat's servers do, and reads replies."""

    def __init__(self, transport: Transport, token: str, aes_key: str = "",
                 appid: str = "") -> None:
        self.transport = transport
        self.token = token
        self.cipher = AesCipher(aes_key, appid) if aes_key else None

    def signed_params(self, timestamp: int | None = None, nonce: str | None = None,
                      token: str | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or str(secrets.randbelow(10**10))
        return {"timestamp": stamp, "nonce": nonce,
                "signature": sha1_signature(token or self.token, stamp, nonce)}

    def verify(self, echostr: str, token: str | None = None) -> Result:
        """GET /wechat URL verification."""
        params = self.signed_params(token=token) | {"echostr": echostr}
        status, body = self.transport("GET", params, b"")
        return Result(status, body)

    def post_raw(self, body: bytes, params: dict[str, str] | None = None) -> Result:
        """Post bytes as they are (signed query unless ``params`` are given)."""
        started = time.monotonic()
        status, text = self.transport("POST", params or self.signed_params(), body)
        return Result(status, text, elapsed=time.monotonic() - started)

    def post_plain(self, xml: str, timestamp: int | None = None,
                   token: str | None = None) -> Result:
        result = self.post_raw(xml.encode("utf-8"), self.signed_params(timestamp, token=token))
        return self._read(result)

    def encrypted_request(self, xml: str, with_plain_fields: str = "",
                          timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        """Body and query of a safe-mode (or compatible-mode) message."""
        assert self.cipher is not None, "no EncodingAESKey"
        params = self.signed_params(timestamp)
        encrypted = self.cipher.encrypt(xml)
        params |= {"encrypt_type": "aes", "msg_signature": sha1_signature(
            self.token, params["timestamp"], params["nonce"], encrypted)}
        body = (f"<xml><ToUserName><![CDATA[gh_protocoltest]]></ToUserName>{with_plain_fields}"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        return body.encode("utf-8"), params

    def post_aes(self, xml: str) -> Result:
        body, params = self.encrypted_request(xml)
        return self._read(self.post_raw(body, params), params)

    def post(self, xml: str) -> Result:
        """Encrypted when this server has a key, else plaintext."""
        return self.post_aes(xml) if self.cipher else self.post_plain(xml)

    def send_text(self, openid: str, content: str, msg_id: str | None = None) -> Result:
        return self.post(text_xml(openid, content, msg_id))

    def _read(self, result: Result, params: dict[str, str] | None = None) -> Result:
        if result.status != 200 or result.body in ("", "success"):
            return result
        root = ET.fromstring(result.body)
        if root.find("Encrypt") is not None:
            result.encrypted = True
            root = ET.fromstring(self._open_encrypted(root, params))
        result.fields = {child.tag: child.text or "" for child in root}
        return result

    def _open_encrypted(self, root: ET.Element, params: dict[str, str] | None) -> str:
        """Check the reply's msg_signature and AppID, return its inner XML."""
        assert self.cipher is not None, "an encrypted reply without a key"
        encrypted = root.findtext("Encrypt") or ""
        stamp, nonce = root.findtext("TimeStamp") or "", root.findtext("Nonce") or ""
        expected = sha1_signature(self.token, stamp, nonce, encrypted)
        assert root.findtext("MsgSignature") == expected, "reply msg_signature is wrong"
        if params is not None:
            assert (stamp, nonce) == (params["timestamp"], params["nonce"])
        xml, appid = self.cipher.decrypt(encrypted)
        assert appid == self.cipher.appid, f"reply AppID {appid!r}"
        return xml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServedBot:
    """``python -m bot serve`` in a subprocess on a free port; output kept in a file."""

    def __init__(self, args: list[str], cwd: Path, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"serve-{self.port}.log"
        command = [sys.executable, "-m", "bot", "serve", *args, "--port", str(self.port)]
        environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_healthy(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited {self.process.returncode}:\n{self.output}")
            try:
                response = requests.get(f"{self.url}/healthz", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not healthy within {timeout} s:\n{self.output}")

    @property
    def output(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def stop(self) -> None:
        """SIGTERM to the process group this object started (gunicorn and its children)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


# Hostile bodies: an entity bomb (billion laughs) and an external entity (XXE).
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "ha">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]><xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&j;</Content></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&x;</Content></xml>"
)
