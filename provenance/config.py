"""How a namespace's runs are attested: one typed value, made and checked in one place.

A :class:`NamespaceConfig` is what ``NamespaceSettings`` stores for a namespace, or the
deployment defaults (``PROVENANCE_DEFAULTS``, from the ``PROVENANCE_*`` variables) for one
without settings of its own. Every value is checked when the config is made, so a config that
exists can always be computed with: ``chainsweb/settings.py`` makes the defaults at start-up,
and a bad ``PROVENANCE_*`` value stops the process with the variable's name.

This module imports no model (settings.py imports it before the app registry is ready).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from provenance.core.errors import FormatError
from provenance.core.oci_layout import OciLayoutError, Repository
from provenance.core.plan import SCOPES, validate_policy
from provenance.core.slsa.config import (
    BUILD_TYPE_SLSA,
    BUILD_TYPES,
    FORMAT_NAMES,
    PREDICATE_VERSION,
    SlsaConfig,
    check_absolute_uri,
)

# RFC 1123 label: what Kubernetes accepts as a namespace name.
NAMESPACE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
MAX_NAMESPACE = 63
MAX_BUILDER_ID = 500  # NamespaceSettings.builder_id and upload_builder_id
MAX_RETENTION_DAYS = 36_500  # a hundred years; anything longer is "for ever" (empty)
MAX_REASON = 1000  # SettingsAudit.reason: why a change was made
MAX_OCI_REPOSITORY = 500  # NamespaceSettings.oci_repository
# The builder id of statements made from uploaded and imported records: chainsweb's, not
# Chains', so that a policy trusting Chains' builder id does not trust what a token uploads.
UPLOAD_BUILDER_ID = "https://chainsweb.dev/builders/upload/v1"
# Record sources (``models.SourceKind``) read from the cluster by chainsweb itself.
WATCHED = "watch"


class ConfigError(FormatError):
    """A setting that cannot be used; ``field`` names it (``format``, ``emit``, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class NamespaceConfig:
    """A namespace's settings (docs/backend.md): Chains' format, deep inspection, builder id
    and build type, the scope and emit policy, the builder id of uploaded records (and whether
    uploads use ``builder_id`` instead), and the namespace's own signing key (its id; None: the
    deployment's default key).

    The two upload fields have defaults, so settings recorded before they existed (an
    attestation's ``settings``) still read.

    And its retention (docs/operations.md, "Retention"): the days a completed run's raw record
    is kept (None: for ever) and whether a legal hold stops pruning. They shape no statement:
    they are not in ``values()`` (an attestation's settings) and changing them re-signs nothing.

    ``taskrun_format`` is the format of standalone TaskRuns (Chains' ``artifacts.taskrun.format``;
    ``format`` is ``artifacts.pipelinerun.format``); empty: the same as ``format``.

    And where signed attestations are published (docs/oci.md): ``oci_publish``, the repository
    that replaces each image's own (``oci_repository``, ``host[:port]/path``; empty: the image's
    repository, as Chains' ``storage.oci.repository``) and ``oci_insecure`` (plain HTTP or
    unverified TLS). Like retention, they shape no statement and re-sign nothing.
    """

    format: str
    deep_inspection: bool
    scope: str
    emit: str
    builder_id: str
    build_type: str
    upload_builder_id: str = UPLOAD_BUILDER_ID
    uploads_use_builder_id: bool = False
    taskrun_format: str = ""
    key: str | None = None
    retention_days: int | None = None
    legal_hold: bool = False
    oci_publish: bool = False
    oci_repository: str = ""
    oci_insecure: bool = False

    def __post_init__(self) -> None:
        for name in (
            "format",
            "scope",
            "emit",
            "builder_id",
            "build_type",
            "upload_builder_id",
            "taskrun_format",
            "oci_repository",
        ):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(name, f"{name} must be a string")
        for name in (
            "deep_inspection",
            "uploads_use_builder_id",
            "legal_hold",
            "oci_publish",
            "oci_insecure",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, f"{name} must be true or false")
        retention_days_check(self.retention_days)
        if self.taskrun_format and self.taskrun_format not in FORMAT_NAMES:
            raise ConfigError(
                "taskrun_format",
                f"unknown taskrun_format {self.taskrun_format!r}; expected one of "
                f"{', '.join(FORMAT_NAMES)} (empty: the same as format)",
            )
        oci_repository_check(self.oci_repository)
        for name, label in (
            ("builder_id", "builder id"),
            ("upload_builder_id", "upload builder id"),
        ):
            if len(getattr(self, name)) > MAX_BUILDER_ID:
                raise ConfigError(name, f"the {label} is over {MAX_BUILDER_ID} characters")
        try:
            _ = self.slsa  # SlsaConfig checks the format, build type and builder id
        except FormatError as exc:
            raise ConfigError(self._slsa_field(), str(exc)) from None
        try:
            check_absolute_uri(self.upload_builder_id, "upload builder id")
        except FormatError as exc:
            raise ConfigError("upload_builder_id", str(exc)) from None
        try:
            validate_policy(self.scope, self.emit)
        except FormatError as exc:
            raise ConfigError("scope" if self.scope not in SCOPES else "emit", str(exc)) from None

    def _slsa_field(self) -> str:
        if self.format not in FORMAT_NAMES:
            return "format"
        if self.build_type not in BUILD_TYPES:
            return "build_type"
        v02 = PREDICATE_VERSION[self.format] == "SLSA v0.2"
        return "build_type" if v02 and self.build_type != BUILD_TYPE_SLSA else "builder_id"

    @property
    def slsa(self) -> SlsaConfig:
        """The engine's view of these settings, for watched PipelineRuns."""
        return self.slsa_for(WATCHED)

    def format_for(self, *, taskrun: bool) -> str:
        """The format of a top-level run: ``taskrun_format`` (when set) for a standalone
        TaskRun, ``format`` for a PipelineRun, as Chains formats the two separately."""
        return (self.taskrun_format or self.format) if taskrun else self.format

    def builder_for(self, source: str) -> str:
        """The builder id of a statement made from records of ``source`` (a record source, or
        ``mixed``): ``builder_id`` for records chainsweb watched, ``upload_builder_id`` for
        everything else unless uploads were opted into ``builder_id``."""
        if source == WATCHED or self.uploads_use_builder_id:
            return self.builder_id
        return self.upload_builder_id

    def slsa_for(self, source: str, *, taskrun: bool = False) -> SlsaConfig:
        """The engine's view of these settings for records of ``source`` (a standalone
        TaskRun's when ``taskrun``)."""
        return SlsaConfig(
            format=self.format_for(taskrun=taskrun),
            builder_id=self.builder_for(source),
            build_type=self.build_type,
            deep_inspection=self.deep_inspection,
        )

    @property
    def sources_distinct(self) -> bool:
        """Do watched and uploaded records get different builder ids? (What the gate's
        ``require_source`` reads a statement without a run state by.)"""
        return not self.uploads_use_builder_id and self.upload_builder_id != self.builder_id

    @property
    def predicate(self) -> str:
        return PREDICATE_VERSION[self.format]

    def values(self) -> dict[str, Any]:
        """The settings as JSON (audit entries, an attestation's ``settings``, the API)."""
        return {name: getattr(self, name) for name in SETTINGS_FIELDS}

    def retention(self) -> dict[str, Any]:
        """``retention_days`` and ``legal_hold`` as JSON (audit entries, the API)."""
        return {name: getattr(self, name) for name in RETENTION_FIELDS}

    def publishing(self) -> dict[str, Any]:
        """``oci_publish``, ``oci_repository`` and ``oci_insecure`` as JSON (audit, the API)."""
        return {name: getattr(self, name) for name in PUBLISH_FIELDS}

    @property
    def oci_target(self) -> Repository | None:
        """The repository every publication goes to, or None: each image's own."""
        return Repository.parse(self.oci_repository) if self.oci_repository else None

    def changed(self, changes: Mapping[str, Any]) -> NamespaceConfig:
        """These settings with ``changes`` applied, checked; ConfigError for an unknown field
        or a bad value."""
        check_fields(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_values(
        cls, values: Mapping[str, Any], key: str | None = None, **retention: Any
    ) -> NamespaceConfig:
        """From the settings (a row, a form, ``PROVENANCE_DEFAULTS``, an attestation's
        ``settings``) and, when given, the retention and publishing fields; ConfigError names a
        missing or bad one. The upload fields and ``taskrun_format`` may be left out (their
        defaults then apply)."""
        missing = [name for name in REQUIRED_FIELDS if name not in values]
        if missing:
            raise ConfigError(missing[0], f"{missing[0]} is missing")
        check_fields(retention)
        given = {name: values[name] for name in SETTINGS_FIELDS if name in values}
        return cls(key=key, **given, **retention)


RETENTION_FIELDS = ("retention_days", "legal_hold")
PUBLISH_FIELDS = ("oci_publish", "oci_repository", "oci_insecure")
SETTINGS_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(NamespaceConfig)
    if f.name not in ("key", *RETENTION_FIELDS, *PUBLISH_FIELDS)
)
REQUIRED_FIELDS = tuple(
    f.name for f in dataclasses.fields(NamespaceConfig) if f.default is dataclasses.MISSING
)
# Where each field's default comes from (chainsweb/settings.py).
ENVIRONMENT = {name: f"PROVENANCE_{name.upper()}" for name in SETTINGS_FIELDS}
RETENTION_ENVIRONMENT = "PROVENANCE_RETENTION_DAYS"


def check_fields(names: Iterable[str]) -> None:
    """ConfigError naming the settings fields that do not exist."""
    unknown = sorted(set(names) - {*SETTINGS_FIELDS, *RETENTION_FIELDS, *PUBLISH_FIELDS})
    if unknown:
        raise ConfigError(unknown[0], f"unknown field(s): {', '.join(unknown)}")


def retention_days_check(days: object) -> None:
    """ConfigError unless ``days`` is None (keep for ever) or 1 to MAX_RETENTION_DAYS."""
    if days is None:
        return
    if not isinstance(days, int) or isinstance(days, bool):
        raise ConfigError("retention_days", "retention_days must be a whole number of days")
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise ConfigError(
            "retention_days",
            f"retention_days must be 1 to {MAX_RETENTION_DAYS} days (empty or 0: keep for ever), "
            f"got {days}",
        )


def oci_repository_check(value: str) -> None:
    """ConfigError unless ``value`` is empty (each image's own repository) or
    ``host[:port]/path``, as Chains' ``storage.oci.repository``."""
    if not value:
        return
    if len(value) > MAX_OCI_REPOSITORY:
        raise ConfigError(
            "oci_repository", f"oci_repository is over {MAX_OCI_REPOSITORY} characters"
        )
    try:
        Repository.parse(value)
    except OciLayoutError as exc:
        raise ConfigError(
            "oci_repository",
            f"oci_repository: {exc}, e.g. registry.example.com/team/attestations",
        ) from None
    if value != value.strip():
        raise ConfigError("oci_repository", "oci_repository must not start or end with spaces")


def retention_days_read(text: str) -> int | None:
    """``PROVENANCE_RETENTION_DAYS`` (or any text input): empty or 0 keeps for ever (None);
    ConfigError for anything but a whole number of days in range."""
    text = text.strip()
    if not text:
        return None
    try:
        days = int(text)
    except ValueError:
        raise ConfigError(
            "retention_days", f"retention_days must be a whole number of days, got {text!r}"
        ) from None
    if days == 0:
        return None
    retention_days_check(days)
    return days


def defaults() -> NamespaceConfig:
    """The deployment's defaults (``PROVENANCE_DEFAULTS``, ``PROVENANCE_RETENTION_DAYS``), for
    namespaces without settings."""
    return NamespaceConfig.from_values(
        settings.PROVENANCE_DEFAULTS, retention_days=settings.PROVENANCE_RETENTION_DAYS
    )


def format_label(fmt: str) -> str:
    """What a person reads for a Chains format name: the predicate version."""
    version = PREDICATE_VERSION.get(fmt)
    return f"{version} ({fmt})" if version else fmt
