"""Namespace names and the settings each namespace's runs are attested under."""

from __future__ import annotations

import re

from provenance.core.slsa.config import PREDICATE_VERSION

# RFC 1123 label: what Kubernetes accepts as a namespace name.
NAMESPACE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
MAX_NAMESPACE = 63
SETTINGS_FIELDS = ("format", "deep_inspection", "scope", "emit", "builder_id", "build_type")


def format_label(fmt: str) -> str:
    """What a person reads for a Chains format name: the predicate version."""
    version = PREDICATE_VERSION.get(fmt)
    return f"{version} ({fmt})" if version else fmt
