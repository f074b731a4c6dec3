"""Console pages: queue filters and search, ticket actions, exports, dashboard, admin."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from bot.console import answers, charts, dashboard, export
from storage import clock, tickets, users
from tests.test_console_support import (
    OTHER_UNIT,
    PASSWORD,
    UNIT,
    XSS,
    act,
    add_ticket,
    login,
    seed,
)


@pytest.fixture
def seeded(app, db, config):  # noqa: ANN001, ANN201
    return seed(db, config)


def numbers(page: str) -> set[str]:
    return set(re.findall(r'href="/console/tickets/(GF\d{8}-\d{4})"', page))


def text_of(reply) -> str:  # noqa: ANN001
    assert reply.status_code == 200, reply.status_code
    return reply.get_data(as_text=True)


# ---------------------------------------------------------------- queue

def test_office_queue_lists_everything_newest_first(app, seeded) -> None:
    page = text_of(login(app, "office").get("/console/"))
    found = re.findall(r'href="/console/tickets/(GF\d{8}-\d{4})"', page)
    assert set(found) == {t["number"] for t in seeded.values()}
    assert found == sorted(found, reverse=True)
    assert "共 4 件" in page


@pytest.mark.parametrize(("args", "expected"), [
    ("status=received", {"waiting", "s6"}),
    ("status=dispatched", {"own", "other"}),
    ("kind=S1", {"other"}),
    (f"unit={OTHER_UNIT}", {"other"}),
    ("flagged=1", {"s6"}),
    ("q=营业执照", {"other"}),           # 4 characters: FTS5 trigram
    ("q=办事", {"waiting"}),             # 2 characters: LIKE fallback
    ("q=吃", {"s6"}),                    # 1 character: LIKE fallback
    ("q=%25", set()),                    # LIKE wildcards are escaped
    ("q=不存在的词语", set()),
    ("from=2000-01-01&to=2000-12-31", set()),
])
def test_queue_filters(app, seeded, args: str, expected: set[str]) -> None:
    page = text_of(login(app, "office").get(f"/console/?{args}"))
    assert numbers(page) == {seeded[name]["number"] for name in expected}


def test_queue_finds_a_ticket_by_number(app, seeded) -> None:
    number = seeded["other"]["number"]
    page = text_of(login(app, "office").get(f"/console/?q={number.lower()}"))
    assert numbers(page) == {number}


def test_date_range_includes_today(app, seeded) -> None:
    today = clock.now().date().isoformat()
    page = text_of(login(app, "office").get(f"/console/?from={today}&to={today}"))
    assert len(numbers(page)) == 4


def test_overdue_filter_and_deadline_sort(app, db, seeded) -> None:
    late = seeded["other"]
    tickets.update_ticket(db, late["id"], due_at="2020-01-01T00:00:00+08:00")
    client = login(app, "office")
    assert numbers(text_of(client.get("/console/?overdue=1"))) == {late["number"]}
    page = text_of(client.get("/console/?sort=due"))
    found = re.findall(r'href="/console/tickets/(GF\d{8}-\d{4})"', page)
    assert found == [late["number"], seeded["own"]["number"]]  # in hand only, soonest first


def test_pagination(app, db, config, seeded) -> None:
    for index in range(55):
        add_ticket(db, config, f"第{index}件：窗口办事慢", route=False)
    client = login(app, "office")
    first = text_of(client.get("/console/"))
    assert "共 59 件，第 1/2 页" in first and 'rel="next"' in first
    second = text_of(client.get("/console/?page=2"))
    assert len(numbers(second)) == 9 and 'rel="prev"' in second
    assert not numbers(first) & numbers(second)


def test_stray_query_arguments_are_ignored(app, seeded) -> None:
    """Arguments url_for would treat specially (endpoint, _external, fmt) break nothing."""
    page = text_of(login(app, "office").get(
        "/console/?endpoint=x&_external=1&fmt=exe&_anchor=a&status=dispatched"))
    assert "/console/export.csv?status=dispatched" in page
    assert "evil" not in page and "_external" not in page


def test_bad_filters_are_explained(app, seeded) -> None:
    reply = login(app, "office").get("/console/?from=yesterday")
    assert reply.status_code == 400 and "日期格式" in reply.get_data(as_text=True)
    assert login(app, "office").get("/console/?status=lost").status_code == 400


def test_unit_sees_only_its_own_unit(app, seeded) -> None:
    client = login(app, "unit")
    page = text_of(client.get("/console/"))
    assert numbers(page) == {seeded["own"]["number"]}  # not the S6 report about its unit
    assert numbers(text_of(client.get(f"/console/?unit={OTHER_UNIT}"))) == set()
    for name in ("other", "waiting", "s6"):
        assert client.get(f"/console/tickets/{seeded[name]['number']}").status_code == 404


def test_ticket_text_is_escaped_everywhere(app, seeded) -> None:
    client = login(app, "office")
    for url in ("/console/", f"/console/tickets/{seeded['own']['number']}"):
        page = text_of(client.get(url))
        assert XSS not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page


# ---------------------------------------------------------------- ticket page

def test_ticket_page_shows_classification_deadlines_and_timeline(app, db, seeded) -> None:
    own = seeded["own"]
    tickets.add_attachment(db, own["id"], "location", latitude=28.45, longitude=117.97,
                           label="广丰区政务服务中心")
    tickets.add_attachment(db, own["id"], "image", media_id="m1",
                           url="https://mmbiz.qpic.cn/x.jpg")
    page = text_of(login(app, "office").get(f"/console/tickets/{own['number']}"))
    for expected in ("S2 置之不理", "不理人", "82%", UNIT, "区行政服务中心", "签收期限",
                     "纬度 28.45，经度 117.97", "广丰区政务服务中心", "mmbiz.qpic.cn",
                     "受理", "派单", "13812345678"):
        assert expected in page, expected


def test_ticket_page_explains_fitted_strings_only_when_there_are_some(app, db, seeded) -> None:
    legend = "带“≈”的是学习权重中的字串"
    own = seeded["own"]
    office = login(app, "office")
    assert legend not in text_of(office.get(f"/console/tickets/{own['number']}"))
    tickets.update_ticket(db, own["id"], matched=["窗口", "≈手机", "≈瞅"])
    page = text_of(office.get(f"/console/tickets/{own['number']}"))
    assert legend in page and "≈手机" in page


def test_unit_sees_masked_phone_and_no_openid(app, seeded) -> None:
    page = text_of(login(app, "unit").get(f"/console/tickets/{seeded['own']['number']}"))
    assert "138****5678" in page and "13812345678" not in page
    assert "o-citizen-1" not in page


def test_actions_offered_follow_role_and_status(app, seeded) -> None:
    number = seeded["own"]["number"]
    unit_page = text_of(login(app, "unit").get(f"/console/tickets/{number}"))
    assert set(re.findall(r'id="form-(\w+)"', unit_page)) == {
        "accept", "return", "request_extension", "note"}
    office_page = text_of(login(app, "office").get(f"/console/tickets/{number}"))
    assert {"dispatch", "approve_extension", "reclassify", "reject", "note"} <= set(
        re.findall(r'id="form-(\w+)"', office_page))
    leader_page = text_of(login(app, "leader").get(f"/console/tickets/{number}"))
    assert 'id="actions"' not in leader_page


def test_dispatch_accept_answer_with_template(app, db, seeded) -> None:
    number = seeded["waiting"]["number"]
    office = login(app, "office")
    reply = act(office, number, "dispatch", unit=UNIT, note="请尽快处理")
    assert reply.status_code == 303
    page = text_of(office.get(reply.location))
    assert "已派单" in page and f'id="unit">{UNIT}<' in page
    unit = login(app, "unit")
    assert act(unit, number, "accept").status_code == 303
    act(unit, number, "answer", template="0", note="")
    ticket = tickets.get_ticket(db, number)
    assert ticket["status"] == "answered"
    assert ticket["answer"] == answers.filled(0, number) and number in ticket["answer"]
    timeline = text_of(unit.get(f"/console/tickets/{number}"))
    for step in ("派单", "签收", "答复", "请尽快处理"):
        assert step in timeline


def test_refused_actions_come_back_politely(app, db, seeded) -> None:
    number = seeded["own"]["number"]
    unit = login(app, "unit")
    reply = act(unit, number, "return", note="")
    assert reply.status_code == 303
    page = text_of(unit.get(reply.location))
    assert "操作未完成：操作 退回 需要填写说明或理由" in page
    assert tickets.get_ticket(db, number)["status"] == "dispatched"
    reply = act(login(app, "office"), seeded["s6"]["number"], "dispatch", unit=UNIT)
    page = text_of(login(app, "office").get(reply.location))
    assert "区纪委" in page  # an S6 report is never dispatched to the accused unit
    assert act(login(app, "leader"), number, "note", note="x").status_code == 403
    assert act(unit, seeded["other"]["number"], "note", note="x").status_code == 404
    assert act(unit, number, "drop_table").status_code == 400


def test_reclassify_is_recorded_as_a_correction(app, db, seeded) -> None:
    number = seeded["own"]["number"]
    act(login(app, "office"), number, "reclassify", kind="D", subtype="D2")
    ticket = tickets.get_ticket(db, number)
    assert (ticket["kind"], ticket["subtype"]) == ("D", "D2")
    row = db.execute("SELECT old_kind, new_kind, actor FROM corrections WHERE number = ?",
                     [number]).fetchone()
    assert row == ("S2", "D", "office")


def test_extension_reject_and_internal_note(app, db, seeded) -> None:
    number = seeded["own"]["number"]
    unit, office = login(app, "unit"), login(app, "office")
    due = tickets.get_ticket(db, number)["due_at"]
    act(unit, number, "request_extension", days="3", note="需要现场核查")
    pending = text_of(office.get(f"/console/tickets/{number}"))
    assert re.search(r'id="pending-extension">unit 申请延期：3个工作日：需要现场核查', pending)
    act(office, number, "approve_extension", days="3")
    assert tickets.get_ticket(db, number)["due_at"] > due
    act(office, number, "note", note="已电话联系单位")
    page = text_of(office.get(f"/console/tickets/{number}"))
    assert "申请延期" in page and "批准延期" in page and "已电话联系单位" in page
    act(office, seeded["waiting"]["number"], "reject", note="不属于受理范围")
    assert tickets.get_ticket(db, seeded["waiting"]["number"])["status"] == "rejected"


def forms_on(client, number: str) -> set[str]:  # noqa: ANN001
    return set(re.findall(r'id="form-(\w+)"', text_of(client.get(f"/console/tickets/{number}"))))


def test_deny_extension_form_only_while_a_request_waits_and_only_for_the_office(
        app, db, seeded) -> None:
    number = seeded["own"]["number"]
    unit, office, admin = login(app, "unit"), login(app, "office"), login(app, "admin")
    assert "deny_extension" not in forms_on(office, number)  # nothing asked yet
    assert "approve_extension" in forms_on(office, number)  # the office may extend anyway
    act(unit, number, "request_extension", days="3", note="需要现场核查")
    for client in (office, admin):
        page = text_of(client.get(f"/console/tickets/{number}"))
        form = re.search(r'<form[^>]*id="form-deny_extension">(.*?)</form>', page, re.S)
        assert form, "office and admin see 不同意延期 while a request waits"
        assert "不同意延期" in form.group(1)
        assert re.search(r'name="csrf_token" value="[^"]+"', form.group(1))
        assert re.search(r'<textarea name="note" required', form.group(1))
        assert page.index('id="form-approve_extension"') < page.index('id="form-deny_extension"')
    assert "deny_extension" not in forms_on(unit, number)
    assert 'id="form-deny_extension"' not in text_of(
        login(app, "leader").get(f"/console/tickets/{number}"))
    act(office, number, "approve_extension", days="3")
    assert "deny_extension" not in forms_on(office, number)  # decided: no longer offered


def test_deny_extension_through_the_console(app, db, seeded) -> None:
    number = seeded["own"]["number"]
    unit, office = login(app, "unit"), login(app, "office")
    due = tickets.get_ticket(db, number)["due_at"]
    act(unit, number, "request_extension", days="3", note="需要现场核查")
    forged = office.post(f"/console/tickets/{number}/actions",
                         data={"action": "deny_extension", "note": "请按期答复"})
    assert forged.status_code == 400  # no CSRF token: refused, nothing written
    assert "deny_extension" in forms_on(office, number)
    reply = act(office, number, "deny_extension", note="")
    assert "操作未完成：操作 不同意延期 需要填写说明或理由" in text_of(office.get(reply.location))
    reply = act(office, number, "deny_extension", note="现场已核查完毕，请按期答复")
    assert reply.status_code == 303
    page = text_of(office.get(reply.location))
    assert "已不同意延期，并告知承办单位" in page
    assert "不同意延期" in page and "现场已核查完毕，请按期答复" in page  # in the timeline
    assert 'id="pending-extension"' not in page and 'id="form-deny_extension"' not in page
    ticket = tickets.get_ticket(db, number)
    assert (ticket["status"], ticket["due_at"]) == ("dispatched", due)
    last = tickets.events_of(db, ticket["id"])[-1]
    assert (last["action"], last["actor"], last["note"]) == (
        "deny_extension", "office", "现场已核查完毕，请按期答复")
    reply = act(office, number, "deny_extension", note="再次不同意")
    assert "没有待审批的延期申请，不能执行 不同意延期" in text_of(office.get(reply.location))
    act(unit, number, "request_extension", days="2", note="再申请一次")
    reply = act(unit, number, "deny_extension", note="x")
    assert "无权执行 不同意延期" in text_of(unit.get(reply.location))
    assert act(login(app, "leader"), number, "deny_extension", note="x").status_code == 403
    assert tickets.events_of(db, ticket["id"])[-1]["action"] == "request_extension"
    assert len([e for e in tickets.events_of(db, ticket["id"])
                if e["action"] == "deny_extension"]) == 1


# ---------------------------------------------------------------- exports

def test_csv_export_has_bom_chinese_headers_and_filters(app, seeded) -> None:
    reply = login(app, "office").get("/console/export.csv?status=dispatched")
    assert reply.status_code == 200 and "attachment" in reply.headers["Content-Disposition"]
    body = reply.data.decode("utf-8")
    assert body.startswith("\ufeff工单编号,受理时间,状态")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert {row[0] for row in rows[1:]} == {seeded["own"]["number"], seeded["other"]["number"]}


def test_unit_export_has_only_its_rows_and_masked_phones(app, seeded) -> None:
    for fmt in ("csv", "xlsx"):
        reply = login(app, "unit").get(f"/console/export.{fmt}")
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(reply.data.decode("utf-8-sig"))))
        else:
            sheet = load_workbook(io.BytesIO(reply.data)).active
            rows = [[cell if cell is not None else "" for cell in row]
                    for row in sheet.iter_rows(values_only=True)]
        assert rows[0][:3] == ["工单编号", "受理时间", "状态"]
        assert [row[0] for row in rows[1:]] == [seeded["own"]["number"]]
        assert rows[1][export.HEADERS.index("联系电话")] == "138****5678"
        assert "13812345678" not in "".join(map(str, rows[1]))


def test_exports_never_carry_formulas(app, db, config, seeded) -> None:
    add_ticket(db, config, "=HYPERLINK(\"http://evil.example\",\"点我\")", route=False)
    reply = login(app, "office").get("/console/export.xlsx?q=HYPERLINK")
    sheet = load_workbook(io.BytesIO(reply.data)).active
    cell = sheet.cell(row=2, column=export.HEADERS.index("投诉内容") + 1)
    assert cell.data_type == "s" and cell.value.startswith("'=")


# ---------------------------------------------------------------- dashboard

def test_dashboard_shows_three_rates_kinds_and_svg(app, db, seeded) -> None:
    unit = login(app, "unit")
    number = seeded["own"]["number"]
    act(unit, number, "accept")
    act(unit, number, "answer", note="已整改")
    page = text_of(login(app, "leader").get("/console/dashboard"))
    for label in ("响应率", "办结率", "满意率", "S1 拖延办理", "S6 推诿索要", "D 政务不公开",
                  "P 行政权力清理落实不到位", "单位“三率”排名", "超期工单"):
        assert label in page, label
    assert page.count("<svg") == 4
    assert re.search(r'id="rate-response">.*?100\.0%', page, re.S)
    assert "http://" not in page and "https://" not in page  # nothing from the network


def test_dashboard_period_choice(app, seeded) -> None:
    client = login(app, "office")
    assert "近7天" in text_of(client.get("/console/dashboard?days=7"))
    assert text_of(client.get("/console/dashboard?days=9999"))  # unknown → default


def test_dashboard_figures_are_kept_for_a_minute(app, db, config, seeded, monkeypatch) -> None:
    client = login(app, "office")

    def new_count() -> str:
        page = text_of(client.get("/console/dashboard"))
        return re.search(r"新增投诉</div><div class=\"value\">(\d+)<", page).group(1)

    before = new_count()
    add_ticket(db, config, "区医保局窗口报销拖了三个月", kind="S1", unit="区医保局")
    assert new_count() == before  # cached
    monkeypatch.setattr(dashboard, "CACHE_SECONDS", 0)
    assert int(new_count()) == int(before) + 1


def test_chart_geometry() -> None:
    chart = charts.horizontal_bars([("甲", 5), ("乙", 10)], width=300, label_width=100)
    assert chart["bars"][1]["width"] == 150  # 10 of a nice maximum of 10 over 150 px
    assert chart["bars"][0]["width"] == 75
    line = charts.line_chart([("2026-01-01", 0), ("2026-01-02", 3)])
    assert line["path"].startswith("M") and len(line["dots"]) == 2
    assert charts.percent(None) == "—" and charts.percent(0.5) == "50.0%"


# ---------------------------------------------------------------- admin

def test_admin_creates_account_with_a_generated_password_shown_once(app, seeded) -> None:
    admin = login(app, "admin")
    reply = admin.post("/console/admin/users", data={
        "username": "liaison9", "role": "unit", "unit": OTHER_UNIT, "csrf_token": admin.csrf})
    page = text_of(reply)
    password = re.search(r'<p class="secret">([^<]+)</p>', page).group(1)
    assert login(app, "liaison9", password).get("/console/").status_code == 200
    assert password not in text_of(admin.get("/console/admin/users"))


def test_admin_refuses_weak_passwords_and_unit_accounts_without_unit(app, seeded) -> None:
    admin = login(app, "admin")
    weak = admin.post("/console/admin/users", data={
        "username": "weak", "role": "office", "password": "short", "csrf_token": admin.csrf})
    assert weak.status_code == 400 and "密码至少" in weak.get_data(as_text=True)
    nounit = admin.post("/console/admin/users", data={
        "username": "nounit", "role": "unit", "password": PASSWORD, "csrf_token": admin.csrf})
    assert nounit.status_code == 400


def test_admin_disables_resets_and_issues_tokens(app, db, seeded) -> None:
    admin = login(app, "admin")
    victim = login(app, "unit2")
    admin.post("/console/admin/users/unit2/disable",
               data={"disabled": "1", "csrf_token": admin.csrf})
    assert users.get_user(db, "unit2")["disabled"] == 1
    assert victim.get("/console/").status_code == 302
    admin.post("/console/admin/users/unit2/disable",
               data={"disabled": "0", "csrf_token": admin.csrf})
    page = text_of(admin.post("/console/admin/users/unit2/password",
                              data={"csrf_token": admin.csrf}))
    new_password = re.search(r'<p class="secret">([^<]+)</p>', page).group(1)
    assert login(app, "unit2", new_password)
    page = text_of(admin.post("/console/admin/users/unit2/token",
                              data={"csrf_token": admin.csrf}))
    token = re.search(r'<p class="secret">(cd_[^<]+)</p>', page).group(1)
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["username"] == "unit2"
    admin.post("/console/admin/users/unit2/token",
               data={"revoke": "1", "csrf_token": admin.csrf})
    again = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401


def test_admin_cannot_disable_itself(app, db, seeded) -> None:
    admin = login(app, "admin")
    admin.post("/console/admin/users/admin/disable",
               data={"disabled": "1", "csrf_token": admin.csrf})
    assert users.get_user(db, "admin")["disabled"] == 0


def test_admin_edits_unit_liaisons(app, db, seeded) -> None:
    admin = login(app, "admin")
    admin.post(f"/console/admin/units/{UNIT}",
               data={"openids": "oLiaisonA_12345\noLiaisonB_12345", "csrf_token": admin.csrf})
    from storage import units

    assert units.stored_liaisons(db, UNIT) == ["oLiaisonA_12345", "oLiaisonB_12345"]
    admin.post(f"/console/admin/units/{UNIT}",
               data={"openids": "oLiaisonB_12345", "csrf_token": admin.csrf})
    assert units.stored_liaisons(db, UNIT) == ["oLiaisonB_12345"]
    reply = admin.post(f"/console/admin/units/{UNIT}",
                       data={"openids": "<script>", "csrf_token": admin.csrf})
    assert "格式不正确" in text_of(admin.get(reply.location))
    assert admin.post("/console/admin/units/不存在的局",
                      data={"openids": "", "csrf_token": admin.csrf}).status_code == 404
    assert "oLiaisonB_12345" in text_of(admin.get("/console/admin/units"))


def test_answer_templates_file_is_complete() -> None:
    templates = answers.load_templates()
    assert len(templates) >= 5
    assert all(t["title"] and len(t["text"]) > 20 for t in templates)
    assert answers.filled(99, "GF1") is None
