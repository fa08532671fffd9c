"""The HTTP server's counters, rendered in the Prometheus text exposition format (version 0.0.4)
for `/metrics`. A handful of numbers do not justify a client library; the format is three lines
per metric."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "content_studio_http_"

# name -> (type, help, label name or "")
DESCRIPTIONS: dict[str, tuple[str, str, str]] = {
    "requests_total": ("counter", "Requests answered, by status code.", "code"),
    "strikes_total": ("counter", "Failed verifications counted against a client address.", "reason"),
    "malformed_requests_total": (
        "counter",
        "Requests the server could not parse (a garbage request line, an over-long header): 400.",
        "",
    ),
    "bans_total": ("counter", "Client addresses banned after repeated strikes.", ""),
    "blocked_total": ("counter", "Requests refused with 403 because their address is banned.", ""),
    "connections_refused_total": ("counter", "Connections closed at once by a limit.", "limit"),
    "timeouts_total": ("counter", "Connections closed because a client was too slow.", "phase"),
    "accept_errors_total": ("counter", "Failed accept() calls (for example: out of file descriptors).", ""),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Metrics:
    counters: dict[str, Counter[str]] = field(default_factory=lambda: {n: Counter() for n in DESCRIPTIONS})
    gauges: dict[str, Callable[[], float]] = field(default_factory=dict)

    def count(self, name: str, label: str = "") -> None:
        self.counters[name][label] += 1

    def render(self) -> str:
        lines: list[str] = []
        for name, (kind, text, label_name) in DESCRIPTIONS.items():
            lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} {kind}"]
            values = self.counters[name]
            if not label_name and not values:
                values = Counter({"": 0})  # an unlabelled counter is shown even at zero
            for label, value in sorted(values.items()):
                labels = f'{{{label_name}="{_escape(label)}"}}' if label_name else ""
                lines.append(f"{PREFIX}{name}{labels} {value}")
        for name, read in sorted(self.gauges.items()):
            lines += [f"# TYPE {PREFIX}{name} gauge", f"{PREFIX}{name} {read()}"]
        return "\n".join(lines) + "\n"
