"""Dashboard forms: list filters (GET) and the namespace admin forms (POST, CSRF-protected)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone

from provenance.config import (
    MAX_OCI_REPOSITORY,
    MAX_REASON,
    MAX_RETENTION_DAYS,
    ConfigError,
    NamespaceConfig,
    oci_repository_check,
)
from provenance.core.plan import EMIT_POLICIES, SCOPES
from provenance.core.slsa.config import BUILD_TYPES, FORMAT_NAMES, PREDICATE_VERSION

from .models import ApiToken, ComputeStatus
from .reads.search import SEARCH_MAX_LENGTH

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 25
RUN_STATUS_CHOICES = [
    ("", "Any status"),
    ("True", "Succeeded"),
    ("False", "Failed"),
    ("Unknown", "Running"),
]
KIND_CHOICES = [
    ("", "All runs"),
    ("top", "Top-level runs"),
    ("PipelineRun", "PipelineRuns"),
    ("TaskRun", "TaskRuns"),
]
SIGNING_CHOICES = [("", "Any signing state")] + [
    (value, label.capitalize()) for value, label in ComputeStatus.choices
]


class PageSizeMixin(forms.Form):
    per_page = forms.ChoiceField(
        label="Per page", choices=[(str(n), str(n)) for n in PAGE_SIZES], required=False
    )

    def clean_per_page(self) -> int:
        value = self.cleaned_data.get("per_page")
        return int(value) if value else DEFAULT_PAGE_SIZE


def set_choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def valid_data(form: forms.Form) -> dict[str, Any]:
    """The fields that validated (an invalid filter is ignored, not an error page)."""
    form.is_valid()
    data = dict(getattr(form, "cleaned_data", {}))
    for name in form.errors:
        data.pop(name, None)
    return data


class RunFilterForm(PageSizeMixin):
    q = forms.CharField(label="Search runs", required=False, max_length=200)
    namespace = forms.ChoiceField(label="Namespace", required=False)
    pipeline = forms.ChoiceField(label="Pipeline", required=False)
    status = forms.ChoiceField(label="Status", choices=RUN_STATUS_CHOICES, required=False)
    signing = forms.ChoiceField(label="Signing", choices=SIGNING_CHOICES, required=False)
    kind = forms.ChoiceField(label="Kind", choices=KIND_CHOICES, required=False)
    started_from = forms.DateField(
        label="Started from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    started_to = forms.DateField(
        label="Started until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, namespaces: list[str], pipelines: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "namespace", [("", "All namespaces")] + [(n, n) for n in namespaces])
        set_choices(self, "pipeline", [("", "All pipelines")] + [(p, p) for p in pipelines])


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


def day_start(day: date | None) -> datetime | None:
    """The first instant of ``day`` in the current time zone (None stays None)."""
    return datetime.combine(day, time.min, timezone.get_current_timezone()) if day else None


def day_end(day: date | None) -> datetime | None:
    """The last instant of ``day`` in the current time zone (None stays None)."""
    return datetime.combine(day, time.max, timezone.get_current_timezone()) if day else None


class ArtifactFilterForm(PageSizeMixin):
    q = forms.CharField(label="URI or digest", required=False, max_length=300)
    namespace = forms.ChoiceField(label="Namespace", required=False)
    attested_from = _date_field("Last attested from")
    attested_to = _date_field("Last attested until")

    def __init__(self, *args: Any, namespaces: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "namespace", [("", "All namespaces")] + [(n, n) for n in namespaces])


class AttestationFilterForm(PageSizeMixin):
    namespace = forms.ChoiceField(label="Namespace", required=False)
    format = forms.ChoiceField(label="Format", required=False)
    scope = forms.ChoiceField(
        label="Scope", required=False, choices=[("", "Any scope")] + [(s, s) for s in SCOPES]
    )
    current = forms.ChoiceField(
        label="Currency",
        required=False,
        choices=[("", "All"), ("1", "Current only"), ("0", "Superseded only")],
    )
    verified = forms.ChoiceField(
        label="Signature",
        required=False,
        choices=[("", "Any"), ("1", "Verifies"), ("0", "Fails verification")],
    )
    created_from = _date_field("Signed from")
    created_to = _date_field("Signed until")
    run = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, namespaces: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "namespace", [("", "All namespaces")] + [(n, n) for n in namespaces])
        set_choices(
            self,
            "format",
            [("", "Any format")] + [(f, f"{f} — {PREDICATE_VERSION[f]}") for f in FORMAT_NAMES],
        )


def artifact_filters(data: dict[str, Any]) -> dict[str, Any]:
    """The artifacts form's fields as ``reads.artifacts.artifact_search`` filters."""
    return {
        "text": data.get("q") or "",
        "namespace": data.get("namespace") or "",
        "attested_after": day_start(data.get("attested_from")),
        "attested_before": day_end(data.get("attested_to")),
    }


def attestation_filters(data: dict[str, Any]) -> dict[str, Any]:
    """The attestations form's fields as ``reads.attestations.attestation_list`` filters
    (``verified`` apart: the page and the export apply it differently)."""
    return {
        "namespace": data.get("namespace") or None,
        "format": data.get("format") or None,
        "scope": data.get("scope") or None,
        "current": {"1": True, "0": False}.get(data.get("current") or ""),
        "run_id": data.get("run"),
        "created_after": day_start(data.get("created_from")),
        "created_before": day_end(data.get("created_to")),
    }


def verified_filter(data: dict[str, Any]) -> bool | None:
    return {"1": True, "0": False}.get(data.get("verified") or "")


class SearchForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=SEARCH_MAX_LENGTH)


FORMAT_CHOICES = [(f, f"{f} — {PREDICATE_VERSION[f]}") for f in FORMAT_NAMES]


class NamespaceSettingsForm(forms.Form):
    """The settings of docs/backend.md; each help text is what the page explains."""

    format = forms.ChoiceField(
        label="Format",
        choices=FORMAT_CHOICES,
        help_text="Chains' format name. slsa/v1 and in-toto write the SLSA v0.2 predicate; "
        "slsa/v2alpha3 and slsa/v2alpha4 write SLSA v1.0.",
    )
    deep_inspection = forms.BooleanField(
        label="Deep inspection",
        required=False,
        help_text="Also read the results of each child TaskRun, so artifacts built by a task "
        "are attested even when the pipeline does not re-export them as pipeline results.",
    )
    scope = forms.ChoiceField(
        label="Scope",
        choices=[(s, s) for s in SCOPES],
        help_text="per-run: one statement per run, exactly what Tekton Chains writes. "
        "per-artifact: one statement per artifact naming only the tasks that could have "
        "contributed to it, with the run's state.",
    )
    emit = forms.ChoiceField(
        label="Emit policy",
        choices=[(e, e) for e in EMIT_POLICIES],
        help_text="on-completion: once the run is done, whatever its outcome (Chains). "
        "on-success: only runs that succeeded. on-artifact (per-artifact only): as soon as "
        "every in-scope task of an artifact succeeded.",
    )
    builder_id = forms.CharField(
        label="Builder id",
        max_length=500,
        help_text="An absolute URI: the builder.id of statements made from records the "
        "watcher read from the cluster (Chains' builder.id).",
    )
    build_type = forms.ChoiceField(
        label="Build type",
        choices=[(b, b) for b in BUILD_TYPES],
        help_text="SLSA v1.0 buildType: …/slsa lists the run's parameters; …/slsa-tekton "
        "embeds the full Tekton objects (SLSA v1.0 formats only). Per-artifact statements use "
        "chainsweb's own type.",
    )
    upload_builder_id = forms.CharField(
        label="Upload builder id",
        max_length=500,
        help_text="An absolute URI: the builder.id of statements made from records uploaded "
        "through the API or imported from files, so that a policy trusting the builder id "
        "above does not trust what a token uploads.",
    )
    uploads_use_builder_id = forms.BooleanField(
        label="Uploads use the builder id",
        required=False,
        help_text="Sign uploaded and imported records with the builder id above too. Their "
        "statements then no longer tell where the records came from, and the gate's "
        "require_source=watch denies them.",
    )
    taskrun_format = forms.ChoiceField(
        label="TaskRun format",
        required=False,
        choices=[("", "same as Format"), *FORMAT_CHOICES],
        help_text="The format of standalone TaskRuns (Chains' artifacts.taskrun.format); "
        "Format above is artifacts.pipelinerun.format.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            NamespaceConfig.from_values(data)
        except ConfigError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return data


class RetentionForm(forms.Form):
    """A namespace's retention and legal hold (docs/operations.md, "Retention")."""

    retention_days = forms.IntegerField(
        label="Keep raw records (days)",
        required=False,
        min_value=0,
        max_value=MAX_RETENTION_DAYS,
        help_text="Days a completed run's raw record is kept before prune_records empties it. "
        "Empty or 0: for ever. The signed attestations and the hash chain are always kept.",
    )
    legal_hold = forms.BooleanField(
        label="Legal hold",
        required=False,
        help_text="While on, no raw record of this namespace is pruned, whatever its age.",
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the history. Required to set or lift a legal hold.",
    )


class PublishForm(forms.Form):
    """Publishing signed attestations to OCI registries (docs/oci.md)."""

    oci_publish = forms.BooleanField(
        label="Publish to OCI registries",
        required=False,
        help_text="Attach each new attestation to every OCI image among its subjects, as cosign "
        "and Chains do: sha256-<digest>.att (the DSSE envelope) and .sig (the image signature). "
        "cosign verify-attestation, Kyverno and policy-controller read them there.",
    )
    oci_repository = forms.CharField(
        label="Repository",
        required=False,
        max_length=MAX_OCI_REPOSITORY,
        help_text="host[:port]/path that holds every publication instead of each image's own "
        "repository (Chains' storage.oci.repository). Empty: the image's repository.",
    )
    oci_insecure = forms.BooleanField(
        label="Insecure registry",
        required=False,
        help_text="Plain HTTP or unverified TLS: for local registries only.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "oci_repository" in data:
            data["oci_repository"] = data["oci_repository"].strip()
            try:
                oci_repository_check(data["oci_repository"])
            except ConfigError as exc:
                self.add_error("oci_repository", str(exc))
        return data


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label="Issued to",
        max_length=150,
        help_text="The person or system that will use the token.",
    )
    role = forms.ChoiceField(
        label="Role",
        choices=ApiToken.Role.choices,
        initial=ApiToken.Role.VIEWER,
        help_text="viewer reads; ingester also posts records; admin also changes settings.",
    )
    expires_days = forms.IntegerField(
        label="Expires after (days)",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Empty: never expires.",
    )
