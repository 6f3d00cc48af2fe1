# Namespace identity and record source (docs/security.md): each run records how it came, as a
# kind and details instead of free text; namespaces get the builder id of uploaded records.

from django.db import migrations, models

# The free-text ``source`` as the services wrote it: "watch", "api:token:NAME",
# "api:user:NAME", "import:PATH" and, from the demo command, "demo:FILE".
SOURCE_FROM_TEXT = """
UPDATE provenance_runrecord SET source_kind = 'watch', source_detail = '{}'::jsonb
    WHERE source = 'watch';
UPDATE provenance_runrecord
    SET source_kind = 'api', source_detail = jsonb_build_object('token', substr(source, 11))
    WHERE source LIKE 'api:token:%';
UPDATE provenance_runrecord
    SET source_kind = 'api', source_detail = jsonb_build_object('user', substr(source, 10))
    WHERE source LIKE 'api:user:%';
UPDATE provenance_runrecord
    SET source_kind = 'api', source_detail = jsonb_build_object('actor', substr(source, 5))
    WHERE source LIKE 'api:%' AND source_kind = 'unknown';
UPDATE provenance_runrecord
    SET source_kind = 'import', source_detail = jsonb_build_object('file', substr(source, 8))
    WHERE source LIKE 'import:%';
UPDATE provenance_runrecord
    SET source_kind = 'import',
        source_detail = jsonb_build_object('file', substr(source, 6), 'command', 'demo')
    WHERE source LIKE 'demo:%';
UPDATE provenance_runrecord SET source_detail = jsonb_build_object('recorded', source)
    WHERE source_kind = 'unknown' AND source <> '';
"""

# Signed top-level runs made from records that were not watched (the run's or a TaskRun's) were
# signed with Chains' builder id; they now get the upload builder id. Marked pending, with no
# time, so that the scheduled ``requeue_pending`` sweep signs them again at once.
RESIGN_UPLOADS = """
UPDATE provenance_runrecord AS run
    SET compute_status = 'pending', compute_updated = NULL,
        compute_reason = 'to be signed again with the upload builder id (migration 0009)'
    WHERE run.compute_status = 'signed'
    AND (run.kind = 'PipelineRun' OR (run.parent_uid = '' AND run.parent_name = ''))
    AND (run.source_kind <> 'watch' OR EXISTS (
        SELECT 1 FROM provenance_runrecord AS child
        WHERE child.kind = 'TaskRun' AND child.namespace = run.namespace
        AND child.parent_uid = run.uid AND child.source_kind <> 'watch'));
"""

TEXT_FROM_SOURCE = """
UPDATE provenance_runrecord SET source = left(
    CASE source_kind
        WHEN 'watch' THEN 'watch'
        WHEN 'api' THEN 'api:' || coalesce(
            'token:' || (source_detail->>'token'),
            'user:' || (source_detail->>'user'),
            source_detail->>'actor',
            '')
        WHEN 'import' THEN
            CASE WHEN source_detail ? 'command' THEN 'demo:' ELSE 'import:' END
            || coalesce(source_detail->>'file', '')
        ELSE coalesce(source_detail->>'recorded', '')
    END, 300);
"""


SETTINGS_FIELDS = (
    "format",
    "deep_inspection",
    "scope",
    "emit",
    "builder_id",
    "build_type",
    "upload_builder_id",
    "uploads_use_builder_id",
)


def builder_ids_as_uris(apps, schema_editor):
    """A builder id must now be an absolute URI, and the settings page once took any string: a
    stored one that is not is replaced by the deployment's default, audited like any change
    (otherwise the namespace's settings could no longer be read, nor its runs signed)."""
    from django.conf import settings

    from provenance.core.errors import FormatError
    from provenance.core.slsa.config import check_absolute_uri

    namespace_settings = apps.get_model("provenance", "NamespaceSettings")
    audit = apps.get_model("provenance", "SettingsAudit")
    default = settings.PROVENANCE_DEFAULTS["builder_id"]

    def snapshot(row):
        values = {name: getattr(row, name) for name in SETTINGS_FIELDS}
        values["signing_key"] = row.signing_key.key_id if row.signing_key else None
        return values

    for row in namespace_settings.objects.select_related("signing_key").order_by("id"):
        try:
            check_absolute_uri(row.builder_id, "builder id")
            continue
        except FormatError:
            pass
        old = snapshot(row)
        row.builder_id = default
        row.save(update_fields=["builder_id"])
        audit.objects.create(
            namespace=row.namespace, actor="migration:0009_identity", old=old, new=snapshot(row)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("provenance", "0008_retention"),
    ]

    operations = [
        migrations.AddField(
            model_name="runrecord",
            name="source_kind",
            field=models.CharField(
                choices=[
                    ("watch", "Watch"),
                    ("api", "Api"),
                    ("import", "Import"),
                    ("unknown", "Unknown"),
                ],
                default="unknown",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="runrecord",
            name="source_detail",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunSQL(SOURCE_FROM_TEXT, TEXT_FROM_SOURCE),
        migrations.RemoveField(model_name="runrecord", name="source"),
        migrations.AddField(
            model_name="namespacesettings",
            name="upload_builder_id",
            field=models.CharField(
                default="https://chainsweb.dev/builders/upload/v1", max_length=500
            ),
        ),
        migrations.AddField(
            model_name="namespacesettings",
            name="uploads_use_builder_id",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(builder_ids_as_uris, migrations.RunPython.noop),
        migrations.RunSQL(RESIGN_UPLOADS, migrations.RunSQL.noop),
    ]
