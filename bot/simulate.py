"""``simulate``: chat with the running bot as a citizen, through the real webhook.

Each line typed (or piped in) becomes one signed message, encrypted when the
config has an EncodingAESKey and is not in plaintext mode, exactly as WeChat
would post it. End of input (Ctrl-D, or the end of a pipe) ends the chat.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator

import requests

from bot import config as config_module
from bot.config import Config
from bot.wxclient import WebhookClient, message_xml

TO_USER = "gh_complaintdesk"
HELP = """输入文字即作为投诉/消息发送。特殊命令：
  /subscribe            关注公众号
  /click KEY            点击菜单（COMPLAIN / QUERY / HELP）
  /voice 文字           发送语音（带语音识别结果）
  /image                发送一张图片
  /location 标签        发送位置
  /quit                 退出（Ctrl-D 亦可）"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from bot.cli import add_config_argument

    parser = subparsers.add_parser("simulate", help="chat with the running bot as a citizen")
    add_config_argument(parser)
    parser.add_argument("--url", help="server base URL (default: from server.host/port)")
    parser.add_argument("--openid", default=f"oSimulated{random.randint(10**6, 10**7)}")
    parser.set_defaults(func=run)


def build(line: str) -> tuple[str, dict[str, str]]:
    """(MsgType, fields) for one line the user typed."""
    msg_id = str(time.time_ns() // 1000)
    command, _, rest = line.partition(" ")
    if command == "/subscribe":
        return "event", {"Event": "subscribe"}
    if command == "/click":
        return "event", {"Event": "CLICK", "EventKey": rest.strip().upper()}
    if command == "/voice":
        return "voice", {"MediaId": "sim-voice", "Format": "amr", "Recognition": rest,
                         "MsgId": msg_id}
    if command == "/image":
        return "image", {"PicUrl": "http://127.0.0.1/sim.jpg", "MediaId": "sim-image",
                         "MsgId": msg_id}
    if command == "/location":
        return "location", {"Location_X": "28.43", "Location_Y": "117.97", "Scale": "15",
                            "Label": rest or "广丰区行政服务中心", "MsgId": msg_id}
    return "text", {"Content": line, "MsgId": msg_id}


def lines(stream=None) -> Iterator[str]:  # noqa: ANN001 - a text stream
    """Non-empty input lines until /quit or end of input (a pipe, Ctrl-D or Ctrl-C)."""
    stream = stream or sys.stdin
    source = _prompted() if stream.isatty() else stream
    for line in source:
        line = line.strip()
        if line == "/quit":
            return
        if line:
            yield line


def _prompted() -> Iterator[str]:
    while True:
        try:
            yield input("我> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return


def base_url(settings: Config, url: str | None) -> str:
    """--url, else the configured listen address (a wildcard address means this host)."""
    if url:
        return url
    host = settings["server.host"]
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{host}:{settings['server.port']}"


def client_for(settings: Config, url: str) -> WebhookClient:
    """Encrypt exactly when the server expects (or accepts) safe-mode messages."""
    aes_key = "" if settings.message_mode == "plaintext" else settings["wechat.encoding_aes_key"]
    return WebhookClient(url, settings["wechat.token"], aes_key, settings["wechat.appid"])


def send(client: WebhookClient, openid: str, line: str) -> str:
    """One line as one message; the reply text, or why there is none."""
    msg_type, fields = build(line)
    response = client.post(message_xml(openid, TO_USER, msg_type, fields))
    if response.status_code != 200:
        return f"（服务器拒绝：HTTP {response.status_code} {response.text[:200]}）"
    return client.reply_text(response) or "（无回复）"


def run(args: argparse.Namespace) -> int:
    settings = config_module.load(args.config)
    url = base_url(settings, args.url)
    client = client_for(settings, url)
    print(f"已连接 {url}/wechat，身份 {args.openid}（{settings.message_mode}）。\n{HELP}",
          flush=True)
    for line in lines():
        try:
            reply = send(client, args.openid, line)
        except requests.RequestException as error:
            print(f"（无法连接服务器：{error}）", file=sys.stderr)
            return 1
        print(f"平台> {reply}", flush=True)
    return 0
