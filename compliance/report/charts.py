"""Inline SVG charts for the report: no JavaScript, so they print in the PDF (WeasyPrint
draws SVG) and show in any browser. Pure functions from numbers to markup; every label is
escaped."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4f7cac", "#c0504d", "#9bbb59", "#f2a93b", "#7f6fb0")
_W, _H, _PAD_L, _PAD_B, _PAD_T = 560, 190, 44, 34, 22


def _frame(inner: str, title: str, legend: Sequence[tuple[str, str]]) -> str:
    keys = "".join(
        f'<rect x="{_PAD_L + i * 120}" y="4" width="10" height="10" fill="{color}"/>'
        f'<text x="{_PAD_L + i * 120 + 14}" y="13" font-size="10">{escape(name)}</text>'
        for i, (name, color) in enumerate(legend))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_W}" height="{_H}" '
            f'viewBox="0 0 {_W} {_H}" font-family="sans-serif"><title>{escape(title)}</title>'
            f"{keys}{inner}</svg>")


def _axis(top: float) -> str:
    base = _H - _PAD_B
    ticks = "".join(
        f'<line x1="{_PAD_L}" x2="{_W - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e8ee"/>'
        f'<text x="{_PAD_L - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">'
        f"{_fmt(top * f)}</text>"
        for f in (0.0, 0.5, 1.0) for y in [base - f * (base - _PAD_T)])
    return ticks + (f'<line x1="{_PAD_L}" x2="{_PAD_L}" y1="{_PAD_T}" y2="{base}" '
                    'stroke="#8a94a0"/>')


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2f}"


_LABEL_PX_PER_CHAR, _LABEL_GAP = 5.6, 6.0  # font-size 9 sans-serif: a digit is ~5 px wide


def label_step(labels: Sequence[str], group_w: float) -> int:
    """Show every n-th x label so that no two shown labels overlap: a label needs its own
    width plus a gap, and n groups give it n * group_w."""
    widest = max((len(label) for label in labels), default=0) * _LABEL_PX_PER_CHAR + _LABEL_GAP
    return max(1, math.ceil(widest / group_w)) if group_w > 0 else 1


def bars(labels: Sequence[str], series: Mapping[str, Sequence[float]], title: str) -> str:
    """Grouped bars: one group per label (a month or week), one bar per series."""
    if not labels:
        return ""
    top = max([max(v, default=0) for v in series.values()] + [1])
    base, plot_w = _H - _PAD_B, _W - _PAD_L - 10
    group_w = plot_w / len(labels)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    every = label_step(labels, group_w)
    parts = [_axis(top)]
    for i, label in enumerate(labels):
        x0 = _PAD_L + i * group_w + group_w * 0.1
        for j, (name, values) in enumerate(series.items()):
            h = (base - _PAD_T) * values[i] / top
            parts.append(f'<rect x="{x0 + j * bar_w:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}"'
                         f' height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}">'
                         f"<title>{escape(name)} {escape(label)}: {_fmt(values[i])}</title></rect>")
        if i % every == 0:
            parts.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{base + 12}" font-size="9" '
                         f'text-anchor="middle">{escape(label)}</text>')
    legend = [(n, PALETTE[j % len(PALETTE)]) for j, n in enumerate(series)]
    return _frame("".join(parts), title, legend)


def burn_down(points: Sequence[float], limit: float, title: str) -> str:
    """Remaining budget after each release, as a step line falling from the limit."""
    if not points or limit <= 0:
        return ""
    base, plot_w = _H - _PAD_B, _W - _PAD_L - 10
    values = [limit, *points]
    step = plot_w / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return base - (base - _PAD_T) * max(v, 0.0) / limit

    path = [f"M{_PAD_L},{y(values[0]):.1f}"]
    for i, v in enumerate(values[1:], start=1):
        path.append(f"H{_PAD_L + i * step:.1f}V{y(v):.1f}")
    inner = (_axis(limit) + f'<path d="{"".join(path)}" fill="none" stroke="{PALETTE[0]}" '
             f'stroke-width="2"/><text x="{_W - 10}" y="{base + 12}" font-size="9" '
             f'text-anchor="end">{len(points)} releases</text>')
    return _frame(inner, title, [("remaining ε", PALETTE[0])])
