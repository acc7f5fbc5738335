"""The SLO review's data: what report.py and the section modules compute, and render.py draws."""

from __future__ import annotations

from dataclasses import dataclass, field

from ops.promapi import human_duration


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    source: str = ""
    note: str = ""


@dataclass
class SloResult:
    slo: str
    title: str
    objective: float
    window_seconds: float
    covered_seconds: float = 0.0
    compliance: float | None = None
    budget_remaining: float | None = None
    burn_rate_1h: float | None = None
    # (epoch, budget remaining so far) for the chart
    budget_series: list[tuple[float, float]] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        return None if self.compliance is None else self.compliance >= self.objective

    @property
    def coverage_note(self) -> str:
        if self.covered_seconds >= self.window_seconds * 0.99:
            return f"full {human_duration(self.window_seconds)}"
        pct = 100 * self.covered_seconds / self.window_seconds if self.window_seconds else 0
        have, want = human_duration(self.covered_seconds), human_duration(self.window_seconds)
        return f"{have} of {want} ({pct:.1f}%)" if pct >= 0.1 else f"{have} of {want} ({pct:.2g}%)"


@dataclass
class Report:
    generated_at: float
    version: str
    window_label: str
    slos: list[SloResult]
    cache: Section
    slow_queries: Section
    alerts: Section
    errors: list[str] = field(default_factory=list)
