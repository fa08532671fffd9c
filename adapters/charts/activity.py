"""Daily activity charts as PNG, drawn with matplotlib's Agg canvas.

`Figure` + `FigureCanvasAgg` instead of pyplot: no global figure registry, no GUI backend, safe in
a worker thread. Drawing takes tens of milliseconds, so it runs off the event loop."""

from __future__ import annotations

import asyncio
import io

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

LINE_COLORS = ("#DD8452", "#937860")
COLORS = ("#4C72B0", "#55A868", "#C44E52", "#8172B2", "#CCB974", "#64B5CD")


class MatplotlibChartRenderer:
    async def daily_bars(
        self,
        title: str,
        days: list[str],
        series: dict[str, list[int]],
        line: dict[str, list[int]] | None = None,
    ) -> bytes:
        return await asyncio.to_thread(draw_daily_bars, title, days, series, line)


def draw_daily_bars(
    title: str, days: list[str], series: dict[str, list[int]], line: dict[str, list[int]] | None = None
) -> bytes:
    buffer = io.BytesIO()
    daily_bars_figure(title, days, series, line).savefig(buffer, format="png")
    return buffer.getvalue()


def daily_bars_figure(
    title: str, days: list[str], series: dict[str, list[int]], line: dict[str, list[int]] | None = None
) -> Figure:
    figure = Figure(figsize=(max(6.0, len(days) * 0.35), 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(series))
    for index, (name, values) in enumerate(series.items()):
        positions = [day + index * width - 0.4 + width / 2 for day in range(len(days))]
        axes.bar(positions, values, width, label=name, color=COLORS[index % len(COLORS)])
    axes.set_xticks(range(len(days)), [day[5:] for day in days], rotation=60, fontsize=7)
    axes.set_title(title)
    axes.set_ylabel("events")
    # Counts are whole and never negative: an empty period keeps a zero baseline and a 0..1 axis
    # instead of matplotlib's default -0.05..0.05, which reads as negative fractions of an event.
    highest = max((max(values, default=0) for values in series.values()), default=0)
    axes.set_ylim(0, max(1, highest) * 1.1)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if series:
        axes.legend(fontsize=7, loc="upper left")
    if line:
        draw_lines(axes, line)
    figure.tight_layout()
    return figure


def draw_lines(axes: Axes, line: dict[str, list[int]]) -> None:
    """Engagement runs to hundreds where events run to a handful: its own axis on the right."""
    right = axes.twinx()
    for index, (name, values) in enumerate(line.items()):
        color = LINE_COLORS[index % len(LINE_COLORS)]
        right.plot(range(len(values)), values, marker="o", color=color, label=name, linewidth=1.5)
    right.set_ylabel("engagement")
    right.set_ylim(0, max(1, max((max(v, default=0) for v in line.values()), default=0)) * 1.1)
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.legend(fontsize=7, loc="upper right")
