"""Exports of the filtered queue: CSV (UTF-8 with BOM, so Excel opens it) and xlsx.

Rows arrive already serialised by the API's rules (unit accounts get only
their rows and masked phones). Cells that a spreadsheet would run as a
formula (=, +, -, @ first) are prefixed with an apostrophe: citizen text must
never become a formula on an office PC.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Response
from openpyxl import Workbook

from bot.console.labels import FLAG_LABELS, kind_label, subtype_label
from storage import clock
from storage.lifecycle import RATINGS, STATUS_LABELS

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _when(value: str | None) -> str:
    return (value or "")[:16].replace("T", " ")


COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("工单编号", lambda t: t["number"]),
    ("受理时间", lambda t: _when(t["created_at"])),
    ("状态", lambda t: STATUS_LABELS.get(t["status"], t["status"])),
    ("问题类型", lambda t: kind_label(t["kind"])),
    ("具体情形", lambda t: subtype_label(t["subtype"])),
    ("责任单位", lambda t: t["unit"] or ""),
    ("投诉内容", lambda t: t["text"]),
    ("联系电话", lambda t: t.get("phone") or ""),
    ("签收期限", lambda t: _when(t["sign_due_at"])),
    ("答复期限", lambda t: _when(t["due_at"])),
    ("是否超期", lambda t: "是" if t["overdue"] else "否"),
    ("标记", lambda t: "、".join(FLAG_LABELS.get(f, f) for f in t["flags"])),
    ("答复时间", lambda t: _when(t["answered_at"])),
    ("群众评价", lambda t: RATINGS.get(t["rating"] or "", "")),
)
HEADERS = tuple(name for name, _ in COLUMNS)


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would take as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def cells(ticket: dict[str, Any]) -> list[Any]:
    return [safe_cell(get(ticket)) for _, get in COLUMNS]


def csv_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV text in chunks, BOM first; streamed so a large export never sits in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(HEADERS)
    for index, ticket in enumerate(rows, start=1):
        writer.writerow(cells(ticket))
        if index % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(rows: Iterable[dict[str, Any]]) -> bytes:
    """An xlsx workbook (write-only mode keeps memory flat) with Chinese headers."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("工单")
    sheet.append(list(HEADERS))
    for ticket in rows:
        sheet.append(cells(ticket))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def response(fmt: str, rows: Iterable[dict[str, Any]]) -> Response:
    """The download, named with today's date (ASCII name plus a UTF-8 one)."""
    name = f"tickets-{clock.now():%Y%m%d}.{fmt}"
    body = csv_chunks(rows) if fmt == "csv" else xlsx_bytes(rows)
    reply = Response(body, mimetype=FORMATS[fmt].split(";")[0], content_type=FORMATS[fmt])
    reply.headers["Content-Disposition"] = (
        f"attachment; filename={name}; filename*=UTF-8''%E5%B7%A5%E5%8D%95-{name}")
    return reply
