"""The content calendar as PNG, drawn with matplotlib's Agg canvas like the activity chart.

The geometry is computed first, in image pixels (origin top left), by pure functions
(`week_layout`, `month_layout`); the drawing only fills the boxes they return. One axes spans the
whole figure with its limits set to the image size, so a box's coordinates are exactly where its
pixels land in the PNG — which is what lets a test look at the pixels of one cell."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import date, timedelta

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from core.calendar import CalendarPage, Entry, legend, style_of, truncation_note

DPI = 100
WIDTH = 1100
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 64, 56  # hour labels, margin, title + day names, legend + note
ROW = 26  # one hour of the week view
MONTH_ROW = 112  # one week of the month view
LINE = 17  # one post line in a month cell
DAY_LABEL = 18  # the day number at the top of a month cell
PAD = 2
WEEK_SLOTS = 3  # posts side by side in one hour cell; more become "+n"
DAY_HOURS = (8, 21)  # the week view always shows 08:00-20:59, widened to every post's hour
GRID, WEEKEND, INK, MUTED = "#D0D0D0", "#F3F3F3", "#222222", "#666666"


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True)
class WeekLayout:
    days: tuple[date, ...]
    hours: tuple[int, int]  # first hour shown, first hour not shown
    width: int = WIDTH

    @property
    def column(self) -> float:
        return (self.width - LEFT - RIGHT) / len(self.days)

    @property
    def height(self) -> int:
        return TOP + ROW * (self.hours[1] - self.hours[0]) + BOTTOM

    def cell(self, day: date, hour: int) -> Box:
        x0 = LEFT + self.days.index(day) * self.column
        y0 = TOP + (hour - self.hours[0]) * ROW
        return Box(x0, y0, x0 + self.column, y0 + ROW)

    def slot(self, day: date, hour: int, index: int, count: int) -> Box:
        """Box of the `index`-th of `count` posts in one hour cell (side by side)."""
        cell, shown = self.cell(day, hour), min(count, WEEK_SLOTS)
        width = (cell.width - PAD) / shown
        x0 = cell.x0 + PAD + index * width
        return Box(x0, cell.y0 + PAD, x0 + width - PAD, cell.y1 - PAD)


def week_layout(days: tuple[date, ...], entry_hours: list[int]) -> WeekLayout:
    first = min([DAY_HOURS[0], *entry_hours])
    last = max([DAY_HOURS[1], *(h + 1 for h in entry_hours)])
    return WeekLayout(days, (first, last))


@dataclass(frozen=True)
class MonthLayout:
    days: tuple[date, ...]
    width: int = WIDTH

    @property
    def weeks(self) -> int:
        return (self.days[0].weekday() + len(self.days) + 6) // 7

    @property
    def column(self) -> float:
        return (self.width - LEFT - RIGHT) / 7

    @property
    def height(self) -> int:
        return TOP + MONTH_ROW * self.weeks + BOTTOM

    @property
    def lines(self) -> int:
        """Post lines that fit in one day cell."""
        return int((MONTH_ROW - DAY_LABEL - PAD) // LINE)

    def cell(self, day: date) -> Box:
        offset = self.days[0].weekday() + (day - self.days[0]).days
        x0 = LEFT + (offset % 7) * self.column
        y0 = TOP + (offset // 7) * MONTH_ROW
        return Box(x0, y0, x0 + self.column, y0 + MONTH_ROW)

    def line(self, day: date, index: int) -> Box:
        cell = self.cell(day)
        y0 = cell.y0 + DAY_LABEL + index * LINE
        return Box(cell.x0 + PAD, y0, cell.x1 - PAD, y0 + LINE - PAD)


def month_layout(days: tuple[date, ...]) -> MonthLayout:
    return MonthLayout(days)


class MatplotlibCalendarRenderer:
    async def calendar(self, page: CalendarPage) -> bytes:
        return await asyncio.to_thread(draw_calendar, page)


def draw_calendar(page: CalendarPage) -> bytes:
    buffer = io.BytesIO()
    calendar_figure(page).savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def calendar_figure(page: CalendarPage) -> Figure:
    if page.period.view == "week":
        layout: WeekLayout | MonthLayout = week_layout(page.period.days, [e.at.hour for e in page.entries])
    else:
        layout = month_layout(page.period.days)
    figure = Figure(figsize=(layout.width / DPI, layout.height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, layout.width)
    axes.set_ylim(layout.height, 0)  # image rows run downwards
    axes.axis("off")
    _text(axes, LEFT, 22, page.title, size=12, weight="bold")
    if isinstance(layout, WeekLayout):
        _draw_week(axes, layout, page)
    else:
        _draw_month(axes, layout, page)
    _draw_legend(axes, layout.height - BOTTOM + 20)
    if page.truncated:
        _text(axes, LEFT, layout.height - 12, truncation_note(page), size=8, colour="#C44E52")
    return figure


def _text(
    axes: Axes, x: float, y: float, text: str, *, size: float = 8, colour: str = INK, **kw: str
) -> None:
    # parse_math off: a `$` in a label would otherwise be read as mathtext.
    axes.text(x, y, text, fontsize=size, color=colour, va="center", parse_math=False, **kw)  # type: ignore[arg-type]


def _label(axes: Axes, box: Box, text: str, colour: str = INK, **kw: str) -> None:
    _text(axes, box.x0 + 3, (box.y0 + box.y1) / 2, text, size=7, colour=colour, **kw)


def _fill(axes: Axes, box: Box, colour: str, edge: str = "none") -> None:
    # add_artist, not add_patch: the limits are fixed to the image, and add_patch's data-limit
    # update per box was half of a busy week's drawing time.
    axes.add_artist(Rectangle((box.x0, box.y0), box.width, box.height, fc=colour, ec=edge, lw=0.8))


def _draw_week(axes: Axes, layout: WeekLayout, page: CalendarPage) -> None:
    for day in layout.days:
        top = layout.cell(day, layout.hours[0])
        mark = " · today" if day == page.today else ""
        _text(axes, top.x0 + 4, TOP - 12, f"{day:%a} {day.day} {day:%b}{mark}", size=9, weight="bold")
        for hour in range(*layout.hours):
            _fill(axes, layout.cell(day, hour), WEEKEND if day.weekday() >= 5 else "white", GRID)
    for hour in range(*layout.hours):
        _text(axes, 8, layout.cell(layout.days[0], hour).y0 + ROW / 2, f"{hour:02d}:00", colour=MUTED)
    for (day, hour), entries in _by_cell(page.entries).items():
        _draw_slots(axes, layout, day, hour, entries)


def _draw_slots(axes: Axes, layout: WeekLayout, day: date, hour: int, entries: list[Entry]) -> None:
    count = len(entries)
    shown = entries if count <= WEEK_SLOTS else entries[: WEEK_SLOTS - 1]
    for index, entry in enumerate(shown):
        box = layout.slot(day, hour, index, count)
        _fill(axes, box, style_of(entry.status).colour)
        label = f"{entry.at:%H:%M} {entry.platform}" if count == 1 else f"{entry.at:%H:%M}"
        _label(axes, box, label, colour="white")
    if count > WEEK_SLOTS:
        _label(axes, layout.slot(day, hour, WEEK_SLOTS - 1, count), f"+{count - len(shown)}", weight="bold")


def _draw_month(axes: Axes, layout: MonthLayout, page: CalendarPage) -> None:
    monday = layout.days[0] - timedelta(days=layout.days[0].weekday())
    for column in range(7):
        name = f"{monday + timedelta(days=column):%a}"
        _text(axes, LEFT + column * layout.column + 4, TOP - 12, name, size=9, weight="bold")
    for day in layout.days:
        cell = layout.cell(day)
        if day == layout.days[0] or day.weekday() == 0:  # ISO week numbers in the left margin
            _text(axes, 8, cell.y0 + DAY_LABEL / 2, f"W{day.isocalendar().week:02d}", colour=MUTED)
        _fill(axes, cell, WEEKEND if day.weekday() >= 5 else "white", GRID)
        today = day == page.today
        label, weight = (f"{day.day} · today", "bold") if today else (str(day.day), "normal")
        _text(
            axes,
            cell.x0 + 4,
            cell.y0 + DAY_LABEL / 2,
            label,
            size=8,
            colour=INK if today else MUTED,
            weight=weight,
        )
        _draw_lines(axes, layout, day, page.on(day))


def _draw_lines(axes: Axes, layout: MonthLayout, day: date, entries: list[Entry]) -> None:
    room = layout.lines
    shown = entries if len(entries) <= room else entries[: room - 1]
    for index, entry in enumerate(shown):
        box = layout.line(day, index)
        _fill(axes, box, style_of(entry.status).colour)
        _label(axes, box, f"{entry.at:%H:%M} {entry.platform}", colour="white")
    if len(entries) > room:
        _label(axes, layout.line(day, room - 1), f"+{len(entries) - len(shown)} more")


def _draw_legend(axes: Axes, y: float) -> None:
    x = float(LEFT)
    for _, style in legend():
        _fill(axes, Box(x, y - 6, x + 12, y + 6), style.colour)
        _text(axes, x + 16, y, style.label, size=8)
        x += 30 + 6.2 * len(style.label)


def _by_cell(entries: tuple[Entry, ...]) -> dict[tuple[date, int], list[Entry]]:
    cells: dict[tuple[date, int], list[Entry]] = {}
    for entry in entries:
        cells.setdefault((entry.at.date(), entry.at.hour), []).append(entry)
    return cells
