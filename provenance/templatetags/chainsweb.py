"""Small presentation helpers: status badges that carry text, copyable digests, durations.

Everything returned goes through ``format_html`` (or is plain text for autoescaping), because the
values come from run records, which anyone who can create a TaskRun controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString

from provenance.config import format_label
from provenance.models import ComputeStatus, SourceKind

register = template.Library()

# A small "copy" icon (two sheets); SVG presentation attributes only, no inline style.
COPY_ICON = (
    '<svg class="icon" width="12" height="12" viewBox="0 0 16 16" aria-hidden="true" '
    'focusable="false"><rect x="5" y="5" width="9" height="9" rx="1.5" fill="none" '
    'stroke="currentColor" stroke-width="1.6"/><path d="M11 3.5V3a1 1 0 0 0-1-1H3a1 1 0 0 '
    '0-1 1v7a1 1 0 0 0 1 1h.5" fill="none" stroke="currentColor" stroke-width="1.6"/></svg>'
)

# (css class, glyph, words): the glyph and the words make the status readable without colour.
RUN_STATUS = {
    "True": ("succeeded", "✓", "Succeeded"),
    "False": ("failed", "✕", "Failed"),
    "Unknown": ("running", "●", "Running"),
    "": ("unknown", "?", "Unknown"),
}
SIGNING_STATUS = {
    "signed": ("succeeded", "✓", "Signed"),
    "pending": ("running", "…", "Pending"),
    "waiting": ("waiting", "◷", "Waiting"),
    "skipped": ("unknown", "–", "Skipped"),
    "failed": ("failed", "✕", "Failed to sign"),
    "child": ("neutral", "↳", "Part of its PipelineRun"),
}
SCOPE_STATUS = {
    "producer": ("producer", "★", "Produces it"),
    "in": ("in", "●", "In scope"),
    "out": ("out", "○", "Out of scope"),
}


def _badge(kind: str, css: str, glyph: str, words: str, title: str = "") -> SafeString:
    if title:
        return format_html(
            '<span class="badge badge-{} {}" title="{}">'
            '<span aria-hidden="true">{}</span> {}</span>',
            css,
            kind,
            title,
            glyph,
            words,
        )
    return format_html(
        '<span class="badge badge-{} {}"><span aria-hidden="true">{}</span> {}</span>',
        css,
        kind,
        glyph,
        words,
    )


@register.simple_tag
def run_status(status: str, reason: str = "") -> SafeString:
    """Badge for a Succeeded condition; the reason (e.g. "Cancelled") replaces the word."""
    css, glyph, words = RUN_STATUS.get(status or "", RUN_STATUS[""])
    if reason and reason not in (words, "Succeeded", "Failed", "Running"):
        words = f"{words}: {reason}" if status == "False" else reason
    return _badge("status", css, glyph, words)


@register.simple_tag
def signing_status(status: str, reason: str = "") -> SafeString:
    css, glyph, words = SIGNING_STATUS.get(status, ("unknown", "?", status or "Unknown"))
    return _badge("signing", css, glyph, words, reason[:300])


@register.simple_tag
def scope_badge(mark: str) -> SafeString:
    if not mark:
        return SafeString("")
    css, glyph, words = SCOPE_STATUS[mark]
    return _badge("scope", css, glyph, words)


@register.simple_tag
def verification_badge(verdict: Any) -> SafeString:
    """A ``reads.verify.Verdict``: green only when it passes; the reasons in its title."""
    if verdict.ok:
        return _badge("verify", "succeeded", "✓", "Signature verified")
    reasons = "; ".join(verdict.messages)[:300]
    return _badge("verify", "failed", "✕", f"Not verified: {verdict.headline}", reasons)


def _short(value: str, keep: int) -> str:
    algorithm, sep, hex_value = value.rpartition(":")
    if sep and len(hex_value) > keep + 4:
        return f"{algorithm}:{hex_value[:keep]}…"
    if not sep and len(value) > keep + 4:
        return f"{value[:keep]}…"
    return value


@register.filter
def short_digest(value: str, keep: int = 12) -> str:
    return _short(str(value), int(keep))


@register.simple_tag
def digest(value: str, keep: int = 12, label: str = "digest") -> SafeString:
    """A monospace, truncated digest with its full value in the title and a copy button."""
    full = str(value)
    return format_html(
        '<span class="copyable"><code class="digest" title="{}">{}</code>'
        '<button type="button" class="copy" data-copy="{}" aria-label="Copy {} {}">'
        '{}<span class="copy-text">Copy</span></button></span>',
        full,
        _short(full, int(keep)),
        full,
        label,
        full,
        SafeString(COPY_ICON),
    )


@register.simple_tag
def copyable(value: str, label: str = "value") -> SafeString:
    """Any long value (a key id, a token) in monospace with a copy button."""
    full = str(value)
    return format_html(
        '<span class="copyable"><code class="mono-long">{}</code>'
        '<button type="button" class="copy" data-copy="{}" aria-label="Copy {}">'
        '{}<span class="copy-text">Copy</span></button></span>',
        full,
        full,
        label,
        SafeString(COPY_ICON),
    )


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return parse_datetime(value.replace("Z", "+00:00"))
    return None


@register.filter
def instant(value: Any) -> datetime | None:
    """An ISO 8601 string (engine times) as a datetime for the date filter."""
    return _instant(value)


@register.filter
def duration(start: Any, end: Any) -> str:
    """``{{ start|duration:end }}`` → "3m 05s"; empty when either end is unknown."""
    a, b = _instant(start), _instant(end)
    if a is None or b is None:
        return ""
    seconds = int((b - a).total_seconds())
    if seconds < 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@register.filter
def value_text(value: Any) -> str:
    """A param or result value as text: strings as they are, arrays and objects as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@register.filter
def is_long(value: Any) -> bool:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return len(text) > 120 or "\n" in text


# What each kind of record source is called on a page.
_SOURCE_WORDS: dict[str, str] = {
    SourceKind.WATCH: "watched",
    SourceKind.API: "uploaded through the API",
    SourceKind.IMPORT: "imported from a file",
    SourceKind.UNKNOWN: "unknown (stored before chainsweb recorded sources)",
}
# Each detail of a source, in the order a person reads them, with its label.
_SOURCE_DETAILS = (
    ("cluster", "cluster"),
    ("watcher", "as"),
    ("token", "token"),
    ("user", "by"),
    ("file", "file"),
    ("command", "command"),
    ("actor", "by"),
    ("recorded", "recorded as"),
)


@register.filter
def source_text(source: Any) -> str:
    """A record's source (``RunRecord.source``) in words: ``watched · cluster prod · as
    system:serviceaccount:ci:watcher``."""
    if not isinstance(source, dict):
        return "—"
    kind = str(source.get("kind", ""))
    parts = [_SOURCE_WORDS.get(kind, kind or "—")]
    parts += [f"{label} {source[key]}" for key, label in _SOURCE_DETAILS if source.get(key)]
    return " · ".join(parts)


@register.filter
def predicate(fmt: str) -> str:
    return format_label(str(fmt))


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None


@register.filter
def why_steps(entry: Any) -> list[str]:
    """An in-scope task's reasons in a signed run state: a whole chain (a list) in statements
    made before "Bounded work", else its one edge and the task it leads to (``via``)."""
    why = entry.get("why") if isinstance(entry, dict) else None
    if isinstance(why, list):
        return [str(step) for step in why]
    via = entry.get("via") if isinstance(entry, dict) else None
    return [str(why or "")] + ([f"→ {via}"] if via else [])


@register.filter
def digest_of(subject: Any) -> str:
    """``alg:hex`` of an Artifact, or of a subject row (``{"uri", "algorithm", "hex"}``)."""
    if isinstance(subject, dict):
        return f"{subject['algorithm']}:{subject['hex']}"
    return f"{subject.algorithm}:{subject.hex}"


@register.filter
def pairs(items: Any) -> list[tuple[Any, None]]:
    """Rows for the attestation table when there is no verification column."""
    return [(item, None) for item in items]


@register.filter
def segments(progress: dict[str, int]) -> list[Segment]:
    return progress_segments(progress)


@register.filter
def ago(value: Any) -> str:
    """ "just now", "5 minutes ago", "3 days ago" (the largest unit only)."""
    from django.utils import timezone
    from django.utils.timesince import timesince

    moment = _instant(value)
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"


PROGRESS_ORDER = (
    (ComputeStatus.SIGNED, "Signed"),
    (ComputeStatus.SKIPPED, "Skipped"),
    (ComputeStatus.WAITING, "Waiting"),
    (ComputeStatus.PENDING, "Pending"),
    (ComputeStatus.FAILED, "Failed"),
)


@dataclass(frozen=True, slots=True)
class Segment:
    status: str
    label: str
    count: int
    x: float  # percent of the bar
    width: float


def progress_segments(progress: dict[str, int]) -> list[Segment]:
    """The recompute progress bar as SVG-ready segments (no inline styles needed)."""
    total = progress.get("total", 0)
    segments = []
    x = 0.0
    for status, label in PROGRESS_ORDER:
        count = progress.get(status, 0)
        width = 100.0 * count / total if total else 0.0
        segments.append(Segment(status, label, count, round(x, 3), round(width, 3)))
        x += width
    return segments
