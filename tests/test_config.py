"""``provenance.config``: a namespace's settings as one checked value, and the PROVENANCE_*
defaults checked when a process starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from provenance.config import (
    ENVIRONMENT,
    SETTINGS_FIELDS,
    UPLOAD_BUILDER_ID,
    ConfigError,
    NamespaceConfig,
    check_fields,
    defaults,
)
from provenance.core.errors import FormatError

ROOT = Path(__file__).resolve().parent.parent
CHAINS = "https://tekton.dev/chains/v2"
GOOD = {
    "format": "slsa/v2alpha4",
    "deep_inspection": False,
    "scope": "per-artifact",
    "emit": "on-artifact",
    "builder_id": "https://tekton.dev/chains/v2",
    "build_type": "https://tekton.dev/chains/v2/slsa",
    "upload_builder_id": "https://chainsweb.dev/builders/upload/v1",
    "uploads_use_builder_id": False,
    "taskrun_format": "",
}


def test_a_config_carries_its_engine_settings_and_its_json() -> None:
    config = NamespaceConfig.from_values(GOOD, key="SHA256:abc")
    assert config.values() == GOOD and list(config.values()) == list(SETTINGS_FIELDS)
    assert config.key == "SHA256:abc"
    assert config.slsa.format == "slsa/v2alpha4" and config.slsa.deep_inspection is False
    assert config.predicate == "SLSA v1.0"
    assert config.changed({"format": "in-toto"}).slsa.is_v02


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"format": "slsa/v9"}, "format", "unknown format 'slsa/v9'"),
        ({"build_type": "x"}, "build_type", "unsupported build type 'x'"),
        (
            {"format": "slsa/v1", "build_type": "https://tekton.dev/chains/v2/slsa-tekton"},
            "build_type",
            "applies to SLSA v1.0 only: format 'slsa/v1' is SLSA v0.2",
        ),
        ({"builder_id": ""}, "builder_id", "the builder id must not be empty"),
        ({"builder_id": "x" * 501}, "builder_id", "over 500 characters"),
        ({"builder_id": "not a url"}, "builder_id", "'not a url' is not an absolute URI"),
        ({"builder_id": "tekton.dev/chains/v2"}, "builder_id", "is not an absolute URI"),
        ({"builder_id": "https:///chains"}, "builder_id", "names no host"),
        ({"builder_id": "https://[::1/x"}, "builder_id", "is not a valid URI"),
        ({"upload_builder_id": "uploads"}, "upload_builder_id", "upload builder id 'uploads'"),
        ({"upload_builder_id": "x" * 501}, "upload_builder_id", "over 500 characters"),
        ({"uploads_use_builder_id": "no"}, "uploads_use_builder_id", "true or false"),
        ({"scope": "per-stage"}, "scope", "unknown scope 'per-stage'"),
        ({"emit": "later"}, "emit", "unknown emit policy 'later'"),
        ({"scope": "per-run"}, "emit", "on-artifact needs per-artifact scope"),
        ({"deep_inspection": "yes"}, "deep_inspection", "true or false"),
        ({"format": 2}, "format", "must be a string"),
        ({"colour": "blue"}, "colour", "unknown field(s): colour"),
    ],
)
def test_each_bad_value_is_refused_naming_its_field(
    change: dict[str, object], field: str, message: str
) -> None:
    config = NamespaceConfig.from_values(GOOD)
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as raised:
        config.changed(change)
    assert raised.value.field == field
    assert isinstance(raised.value, FormatError)  # the API and the forms answer 400 with it


def test_a_missing_field_is_named() -> None:
    with pytest.raises(ConfigError, match="emit is missing"):
        NamespaceConfig.from_values({k: v for k, v in GOOD.items() if k != "emit"})
    check_fields(GOOD)  # every known field passes


def test_settings_recorded_before_the_upload_fields_still_read() -> None:
    """An attestation's ``settings`` made before the upload fields existed has six fields."""
    old = {k: v for k, v in GOOD.items() if not k.startswith("upload")}
    config = NamespaceConfig.from_values(old)
    assert config.upload_builder_id == UPLOAD_BUILDER_ID
    assert config.uploads_use_builder_id is False


@pytest.mark.parametrize(
    ("uploads_use", "upload_id", "watched", "uploaded", "distinct"),
    [
        (False, UPLOAD_BUILDER_ID, CHAINS, UPLOAD_BUILDER_ID, True),
        (True, UPLOAD_BUILDER_ID, CHAINS, CHAINS, False),
        (False, CHAINS, CHAINS, CHAINS, False),
    ],
)
def test_the_builder_id_depends_on_where_the_records_came_from(
    uploads_use: bool, upload_id: str, watched: str, uploaded: str, distinct: bool
) -> None:
    config = NamespaceConfig.from_values(
        {**GOOD, "uploads_use_builder_id": uploads_use, "upload_builder_id": upload_id}
    )
    assert config.slsa_for("watch").builder_id == watched
    for source in ("api", "import", "unknown", "mixed"):
        assert config.slsa_for(source).builder_id == uploaded
    assert config.sources_distinct is distinct


def test_the_defaults_come_from_the_provenance_settings(settings) -> None:
    assert defaults().values() == dict(settings.PROVENANCE_DEFAULTS)
    assert defaults().key is None
    assert set(ENVIRONMENT.values()) == {f"PROVENANCE_{f.upper()}" for f in SETTINGS_FIELDS}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PROVENANCE_FORMAT", "slsa/v9", "PROVENANCE_FORMAT: unknown format 'slsa/v9'"),
        ("PROVENANCE_SCOPE", "per-stage", "PROVENANCE_SCOPE: unknown scope 'per-stage'"),
        ("PROVENANCE_EMIT", "on-artifact", "PROVENANCE_EMIT: emit policy on-artifact needs"),
        ("PROVENANCE_BUILDER_ID", "", "PROVENANCE_BUILDER_ID: the builder id must not be empty"),
        ("PROVENANCE_BUILD_TYPE", "slsa", "PROVENANCE_BUILD_TYPE: unsupported build type"),
        (
            "PROVENANCE_BUILDER_ID",
            "chains",
            "PROVENANCE_BUILDER_ID: the builder id 'chains' is not an absolute URI",
        ),
        (
            "PROVENANCE_UPLOAD_BUILDER_ID",
            "not a url",
            "PROVENANCE_UPLOAD_BUILDER_ID: the upload builder id 'not a url' is not an absolute",
        ),
        (
            "PROVENANCE_UPLOADS_USE_BUILDER_ID",
            "maybe",
            "PROVENANCE_UPLOADS_USE_BUILDER_ID must be a boolean",
        ),
    ],
)
def test_a_bad_provenance_variable_stops_the_process_at_start_up(
    variable: str, value: str, message: str
) -> None:
    """Any process loading the settings (here ``manage.py check``; the web app and the worker
    load the same module) stops before doing anything, naming the variable."""
    env = {**os.environ, variable: value}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert f"ImproperlyConfigured: {message}" in done.stderr.splitlines()[-1]
