"""The console in a real browser: headless Chromium against the app on a real server.

The app runs in werkzeug's threaded server on 127.0.0.1 (a random port) in a
thread; Playwright drives Debian's Chromium. Screenshots of the queue, a
ticket and the dashboard go to ``test-artifacts/``; copy them into
``docs/screenshots/`` when the pages change (docs/console.md says how).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bot import create_app
from handlers import casework
from storage import clock, tickets
from storage.db import close_all, get_db
from storage.lifecycle import Actor
from tests.conftest import make_config
from tests.test_console_support import OTHER_UNIT, PASSWORD, UNIT, XSS, seed

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

if not Path(CHROMIUM).exists():  # pragma: no cover - `make test` installs it
    pytest.skip("Debian's chromium is not installed (make chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

SAMPLES = (
    ("S1", "区不动产登记中心办房产证拖了一个多月还没办好", "区不动产登记中心"),
    ("S3", "区公安分局户籍窗口工作人员态度恶劣，大声呵斥老人", "区公安分局"),
    ("S4", "区医保局窗口上班时间玩手机，排队的人很多", "区医保局"),
    ("D", "区市场监管局办营业执照需要什么材料没有公示", OTHER_UNIT),
    ("P", "网上审批系统没有延伸到乡镇，还得跑到区里", "区行政服务中心"),
    ("S2", "区人社局窗口的人不理人，问了三遍都不回答", UNIT),
)


def _history(db, config) -> None:  # noqa: ANN001
    """A few weeks of handled tickets, so the dashboard has rates, a trend and overdue ones."""
    now = clock.now()
    citizen = Actor("o-citizen-1", "citizen")
    for day in range(14):
        for index, (kind, text, unit) in enumerate(SAMPLES):
            if (day + index) % 3:
                continue
            moment = now - timedelta(days=14 - day, hours=index)
            ticket = _created(db, config, text, kind, unit, moment)
            if day < 10 and index % 2 == 0:
                liaison = Actor("liaison", "unit", unit)
                casework.act(db, config, ticket, "accept", liaison, now=moment + timedelta(hours=2))
                casework.act(db, config, ticket, "answer", liaison, {"note": "已整改到位"},
                             now=moment + timedelta(days=1))
                rating = "unsatisfied" if day % 4 == 0 else "satisfied"
                casework.act(db, config, ticket, "rate", citizen, {"rating": rating},
                             now=moment + timedelta(days=1, hours=3))


def _created(db, config, text: str, kind: str, unit: str, moment) -> str:  # noqa: ANN001
    ticket = tickets.create_ticket(
        db, prefix="GF", openid="o-citizen-1", text=text, now=moment,
        classification={"kind": kind, "unit": unit, "confidence": 0.8, "matched": [text[:4]]},
        lead_units=["区政府办公室", "区行政服务中心"])
    casework.route_new_ticket(db, config, ticket["number"], now=moment)
    return ticket["number"]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict]:
    """The app on a real threaded server; yields its base URL and the seeded tickets."""
    folder = tmp_path_factory.mktemp("browser")
    config = make_config(folder)
    app = create_app(config)
    db = get_db(config["storage.path"])
    _history(db, config)
    seeded = seed(db, config)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{http.server_port}", "tickets": seeded}
    http.shutdown()
    thread.join(timeout=5)
    close_all()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator:  # noqa: ANN001
    """A fresh context (no cookies) that records any dialog an injected script would open."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()


def sign_in(page, base: str, username: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def shot(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_without_a_session_the_console_shows_the_login_page(server, page) -> None:
    page.goto(f"{server['url']}/console/tickets/{server['tickets']['own']['number']}")
    assert "/console/login" in page.url
    assert page.locator("h1").inner_text() == "工作台登录"


def test_wrong_password_stays_on_the_login_page(server, page) -> None:
    sign_in(page, server["url"], "office", "wrong-passw0rd")
    assert "/console/login" in page.url
    assert "用户名或密码不正确" in page.locator(".flash-error").inner_text()


def test_office_filters_dispatches_and_unit_answers(server, page, browser) -> None:
    base, number = server["url"], server["tickets"]["waiting"]["number"]
    sign_in(page, base, "office")
    assert page.url.endswith("/console/")
    page.select_option("select[name=status]", "received")
    page.click("#filters button[type=submit]")
    assert "status=received" in page.url
    rows = page.locator("#queue tbody tr")
    assert rows.count() == 2  # the ticket waiting for a unit and the S6 referral
    shot(page, "queue")
    page.click(f"text={number}")
    assert page.url.endswith(f"/console/tickets/{number}")
    page.select_option("#form-dispatch select[name=unit]", UNIT)
    page.click("#form-dispatch button[type=submit]")
    assert page.locator("#status").inner_text() == "已派单"
    assert "派往 区人社局" in page.locator("#timeline").inner_text()

    liaison = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(liaison, base, "unit")
    liaison.goto(f"{base}/console/tickets/{number}")
    liaison.click("#form-accept button[type=submit]")
    assert liaison.locator("#status").inner_text() == "已签收"
    # console.js sits at the end of the page: on a busy machine the select can be clickable
    # before the script has run, and a change then fills nothing (a flake in CI)
    liaison.wait_for_load_state("load")
    liaison.select_option("#form-answer select[name=template]", index=1)  # first template
    assert "已核实" in liaison.input_value("#answer-note")  # filled by console.js
    liaison.fill("#answer-note", liaison.input_value("#answer-note") + "（已电话回访）")
    liaison.click("#form-answer button[type=submit]")
    assert liaison.locator("#status").inner_text() == "已答复"
    timeline = liaison.locator("#timeline").inner_text()
    assert "签收" in timeline and "已电话回访" in timeline
    shot(liaison, "ticket")
    liaison.context.close()


def test_injected_markup_shows_literally_and_runs_nothing(server, page) -> None:
    number = server["tickets"]["own"]["number"]
    sign_in(page, server["url"], "office")
    page.goto(f"{server['url']}/console/tickets/{number}")
    assert XSS in page.locator("#ticket-text").inner_text()
    assert page.locator("#ticket-text img").count() == 0
    assert page.locator("img[src=x]").count() == 0
    page.goto(f"{server['url']}/console/?q=onerror")
    assert XSS[:20] in page.locator("#queue").inner_text()
    assert page.locator("#queue img").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_unit_sees_only_its_own_tickets(server, page) -> None:
    base, seeded = server["url"], server["tickets"]
    sign_in(page, base, "unit")
    units = set(page.locator("#queue tbody td[data-label=单位]").all_inner_texts())
    assert units == {UNIT}
    assert seeded["s6"]["number"] not in page.content()
    for name in ("other", "s6"):
        reply = page.goto(f"{base}/console/tickets/{seeded[name]['number']}")
        assert reply.status in (403, 404)
    reply = page.goto(f"{base}/console/dashboard")
    assert reply.status == 403


def test_dashboard_shows_the_three_rates(server, page) -> None:
    sign_in(page, server["url"], "leader")
    assert page.url.endswith("/console/dashboard")
    for rate in ("#rate-response", "#rate-resolution", "#rate-satisfaction"):
        value = page.locator(f"{rate} .value").inner_text()
        assert value.endswith("%"), (rate, value)
    assert page.locator("svg.chart").count() == 4
    assert page.locator("#ranking tbody tr").count() >= 3
    assert page.locator("#overdue tbody tr").count() >= 1
    shot(page, "dashboard")


def test_queue_is_usable_on_a_phone(server, browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  device_scale_factor=1)
    phone = context.new_page()
    sign_in(phone, server["url"], "office")
    phone.wait_for_url(f"{server['url']}/console/")
    phone.wait_for_load_state("load")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling: table rows become cards
    shot(phone, "queue-phone")
    context.close()


def test_screenshots_are_small() -> None:
    """Each screenshot stays well under 300 KB (copies live in docs/screenshots/)."""
    for name in ("queue", "ticket", "dashboard", "queue-phone"):
        source = ARTIFACTS / f"{name}.png"
        if not source.exists():
            pytest.skip(f"{source} not made in this run")
        assert source.stat().st_size < 300_000, (name, source.stat().st_size)
