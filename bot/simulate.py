"""``simulate``: chat with the running bot as a citizen, through the real webhook."""

from __future__ import annotations

import argparse
import random
import sys
import time

import requests

from bot import config as config_module
from bot.wxclient import WebhookClient, message_xml

HELP = """输入文字即作为投诉/消息发送。特殊命令：
  /subscribe            关注公众号
  /click KEY            点击菜单（COMPLAIN / QUERY / HELP）
  /voice 文字           发送语音（带语音识别结果）
  /image                发送一张图片
  /location 标签        发送位置
  /quit                 退出"""


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


def run(args: argparse.Namespace) -> int:
    settings = config_module.load(args.config)
    url = args.url or f"http://{settings['server.host']}:{settings['server.port']}"
    client = WebhookClient(url, settings["wechat.token"], settings["wechat.encoding_aes_key"],
                           settings["wechat.appid"])
    print(f"已连接 {url}/wechat，身份 {args.openid}（{settings.message_mode}）。\n{HELP}")
    for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: input("我> "), None):
        line = line.strip()
        if not line:
            continue
        if line == "/quit":
            break
        msg_type, fields = build(line)
        xml = message_xml(args.openid, "gh_complaintdesk", msg_type, fields)
        try:
            reply = client.reply_text(client.post(xml))
        except requests.RequestException as error:
            print(f"（无法连接服务器：{error}）", file=sys.stderr)
            return 1
        print(f"平台> {reply or '（无回复）'}", flush=True)
    return 0
