"""Read the alert names and the firing/resolved status out of each kind of notification.

Alertmanager's webhook JSON carries both as fields. Slack and PagerDuty messages carry only text
rendered from templates, so the names and status are read from what the stock templates and this
repo's (alertmanager/templates/) put there: a `[FIRING:n] Name ...` / `[RESOLVED] SEVERITY Name`
subject, a `Name: summary` PagerDuty summary, `alertname = Name` label listings (Alertmanager's
default PagerDuty details), PagerDuty's `event_action`, and Slack's danger/good colour.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

KINDS = ("slack", "pagerduty", "webhook")
STATUSES = ("firing", "resolved")

# `[FIRING:2] CRITICAL MarketplaceDown (v2)`: an all-capitals severity may precede the name.
_SUBJECT = re.compile(r"\[(?:FIRING|RESOLVED)(?::\d+)?\]\s*(?:[A-Z]+\s+)*([A-Za-z_][A-Za-z0-9_]*)")
# PagerDuty summary as this repo's template writes it: `MarketplaceDown: <summary>`.
_LEADING_NAME = re.compile(r"^([A-Z][A-Za-z0-9_]*):\s")
_LABEL = re.compile(r"""alertname["']?\s*(?:=|:|=~)\s*["'`*_]*([A-Za-z_][A-Za-z0-9_]*)""")
_STATUS_WORD = re.compile(r"\b(FIRING|RESOLVED)\b", re.IGNORECASE)
_COLOURS = {"danger": "firing", "good": "resolved"}


def _strings(value) -> Iterator[str]:
    """Every string inside a JSON value, depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _names_in_text(texts: list[str]) -> list[str]:
    names: list[str] = []
    for text in texts:
        names.extend(_SUBJECT.findall(text))
        names.extend(_LABEL.findall(text))
    return list(dict.fromkeys(names))


def _status_in_text(texts: list[str]) -> str | None:
    for text in texts:
        match = _STATUS_WORD.search(text)
        if match:
            return match.group(1).lower()
    return None


def summarise(kind: str, payload) -> tuple[list[str], str]:
    """(alert names, status) of one notification; status is firing, resolved or unknown."""
    if not isinstance(payload, dict):
        return [], "unknown"
    if kind == "webhook":
        names = [
            alert.get("labels", {}).get("alertname")
            for alert in payload.get("alerts", [])
            if isinstance(alert, dict)
        ]
        names = list(dict.fromkeys(name for name in names if name))
        status = payload.get("status")
        # A metric label too: only the values Alertmanager sends, whatever a post claims.
        return names, status if status in STATUSES else "unknown"
    if kind == "pagerduty":
        action = payload.get("event_action")
        status = {"trigger": "firing", "resolve": "resolved"}.get(action, "unknown")
        body = payload.get("payload") if isinstance(payload.get("payload"), dict) else {}
        names = _LEADING_NAME.findall(str(body.get("summary", "")))
        names += _names_in_text(list(_strings(body)))
        return list(dict.fromkeys(names)), status
    # Slack: the title (subject) comes first so that its status word wins over the body's.
    attachments = [a for a in payload.get("attachments") or [] if isinstance(a, dict)]
    headline = [str(a.get(key, "")) for a in attachments for key in ("title", "fallback")]
    texts = [*headline, str(payload.get("text", "")), *_strings(attachments)]
    status = _status_in_text(headline) or _status_in_text(texts)
    if status is None:
        colours = {_COLOURS.get(str(a.get("color"))) for a in attachments} - {None}
        status = colours.pop() if len(colours) == 1 else "unknown"
    return _names_in_text(texts), status
