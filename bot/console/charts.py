"""Chart geometry for server-side SVG (no JavaScript, no CDN).

Functions here turn numbers into plain shapes (coordinates and labels); the
macros in ``templates/console/_charts.html`` draw them, so every label goes
through Jinja's autoescaping like any other text on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Series = Sequence[tuple[str, float]]


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def horizontal_bars(items: Series, *, width: int = 520, row: int = 24,
                    label_width: int = 150) -> dict[str, Any]:
    """One bar per item, label on the left, value at the bar's end."""
    top = _nice_max(max((value for _, value in items), default=0))
    plot = width - label_width - 50
    bars = []
    for index, (label, value) in enumerate(items):
        y = index * row + 4
        length = plot * value / top
        bars.append({"label": label, "value": value, "x": label_width, "y": y,
                     "width": round(length, 1), "height": row - 8,
                     "text_y": y + row / 2, "value_x": round(label_width + length + 4, 1)})
    return {"width": width, "height": max(len(items), 1) * row + 8, "bars": bars,
            "label_x": label_width - 6}


def line_chart(points: Series, *, width: int = 900, height: int = 220) -> dict[str, Any]:
    """A daily trend: a polyline with dots, y-axis ticks and a few date labels."""
    left, right, top_pad, bottom = 36, 10, 12, 28
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = _nice_max(max((value for _, value in points), default=0))
    count = max(len(points) - 1, 1)
    dots = []
    for index, (label, value) in enumerate(points):
        x = left + plot_w * index / count
        y = top_pad + plot_h * (1 - value / top)
        dots.append({"x": round(x, 1), "y": round(y, 1), "label": label, "value": value})
    every = max(1, len(points) // 10)
    labels = [dot for index, dot in enumerate(dots) if index % every == 0]
    steps = _divisions(top)
    ticks = [{"y": round(top_pad + plot_h * (1 - part / steps), 1),
              "value": _fmt(top * part / steps)} for part in range(steps + 1)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{d['x']},{d['y']}" for i, d in enumerate(dots))
    return {"width": width, "height": height, "path": path, "dots": dots, "labels": labels,
            "ticks": ticks, "left": left, "right": width - right, "base": top_pad + plot_h,
            "label_y": height - 8}


def _divisions(top: float) -> int:
    """Grid lines at round values: 5 for 1×/5×10ⁿ, 4 for 2×10ⁿ, one per unit below 5."""
    if top < 5 and float(top).is_integer():
        return max(int(top), 1)
    return 4 if f"{top:g}"[0] == "2" else 5


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def percent(rate: float | None) -> str:
    """A rate as 一位小数 percent, or an em dash when there is nothing to measure yet."""
    return "—" if rate is None else f"{rate * 100:.1f}%"
