"""The soak's verdict and its tables: start against end, and what each phase answered."""

from __future__ import annotations

from dataclasses import dataclass

from ops import promapi

GROWTH_LIMIT = 0.05  # growth of any watched figure from start to end, as a fraction
# (snapshot key, label, divisor for display)
WATCHED = (
    ("rss_bytes", "RSS (MiB)", 2**20),
    ("open_fds", "open file descriptors", 1),
    ("threads", "threads", 1),
    ("series", "series on /metrics", 1),
)


def growth(start: float, end: float) -> float:
    if start == 0:
        return 0.0 if end == 0 else float("inf")
    return (end - start) / start


def parse_duration(text: str) -> float:
    """Seconds in `90`, `90s`, `10m` or `1h`: Prometheus' durations, a bare number in seconds."""
    text = text.strip().lower()
    number = promapi.parse_duration(text if text[-1:].isalpha() else f"{text}s")
    if number <= 0:
        raise ValueError(f"duration must be positive, got {text!r}")
    return number


@dataclass
class Phase:
    fault: str  # the fault's key, or "none" between faults
    seconds: float
    requests: float  # answered by the service (its request counter)
    server_errors: float  # 5xx it answered in the phase
    expected_errors: bool  # an injected error fault was on


@dataclass
class Verdict:
    ok: bool
    reasons: list[str]
    unexpected_5xx: float


def judge(start: dict, end: dict, phases: list[Phase], no_answer: int) -> Verdict:
    reasons = []
    for key, label, _ in WATCHED:
        change = growth(start[key], end[key])
        if change >= GROWTH_LIMIT:
            reasons.append(f"{label} grew {change:.1%} ({start[key]:g} -> {end[key]:g})")
    unexpected = sum(p.server_errors for p in phases if not p.expected_errors)
    if unexpected:
        reasons.append(f"{unexpected:g} 5xx outside the injected error fault")
    if no_answer:
        reasons.append(f"{no_answer} requests got no answer")
    return Verdict(not reasons, reasons, unexpected)


def resource_table(start: dict, end: dict, unexpected: tuple[float, float]) -> str:
    rows = [("", "start", "end", "growth")]
    for key, label, divisor in WATCHED:
        rows.append(
            (
                label,
                f"{start[key] / divisor:.1f}" if divisor > 1 else f"{start[key]:g}",
                f"{end[key] / divisor:.1f}" if divisor > 1 else f"{end[key]:g}",
                f"{growth(start[key], end[key]):+.1%}",
            )
        )
    rows.append(("5xx outside injected faults", f"{unexpected[0]:g}", f"{unexpected[1]:g}", ""))
    return markdown(rows)


def phase_table(phases: list[Phase]) -> str:
    merged: dict[str, list[float]] = {}
    for p in phases:
        row = merged.setdefault(p.fault, [0, 0.0, 0.0, 0.0, p.expected_errors])
        row[0] += 1
        row[1] += p.seconds
        row[2] += p.requests
        row[3] += p.server_errors
    rows = [("phase", "times", "seconds", "requests", "req/s", "5xx", "5xx expected")]
    for fault, (times, seconds, requests, errors, expected) in merged.items():
        rate = requests / seconds if seconds else 0
        rows.append(
            (
                fault,
                f"{times}",
                f"{seconds:.0f}",
                f"{requests:.0f}",
                f"{rate:.0f}",
                f"{errors:g}",
                "yes" if expected else "no",
            )
        )
    return markdown(rows)


def markdown(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
