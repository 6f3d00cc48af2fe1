# Trust anchors outside the database (docs/security.md): chain entries carry the chain key's
# signature, keys mirror their revocation and retirement, and TRUNCATE of the append-only tables
# is refused like UPDATE and DELETE.

import django.utils.timezone
from django.db import migrations, models

TABLES = ("provenance_attestation", "provenance_attestation_subjects", "provenance_chainentry")

SQL = """
-- A chain entry appended before entries were signed may be signed once, and nothing else in
-- the row changes (write_trust_bundle --sign-chain); everything else stays refused.
CREATE OR REPLACE FUNCTION provenance_chainentry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.signature = '' AND OLD.signed_by = ''
       AND (to_jsonb(NEW) - 'signature' - 'signed_by')
           = (to_jsonb(OLD) - 'signature' - 'signed_by') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS chainentry_append_only ON provenance_chainentry;
CREATE TRIGGER chainentry_append_only BEFORE UPDATE OR DELETE ON provenance_chainentry
    FOR EACH ROW EXECUTE FUNCTION provenance_chainentry_append_only();
""" + "".join(
    f"CREATE TRIGGER {table.removeprefix('provenance_')}_no_truncate BEFORE TRUNCATE ON {table}"
    " FOR EACH STATEMENT EXECUTE FUNCTION provenance_append_only();\n"
    for table in TABLES
)

REVERSE_SQL = """
DROP TRIGGER IF EXISTS chainentry_append_only ON provenance_chainentry;
CREATE TRIGGER chainentry_append_only BEFORE UPDATE OR DELETE ON provenance_chainentry
    FOR EACH ROW EXECUTE FUNCTION provenance_append_only();
DROP FUNCTION IF EXISTS provenance_chainentry_append_only();
""" + "".join(
    f"DROP TRIGGER IF EXISTS {table.removeprefix('provenance_')}_no_truncate ON {table};\n"
    for table in TABLES
)


class Migration(migrations.Migration):
    dependencies = [("provenance", "0010_publish")]

    operations = [
        migrations.AddField(
            model_name="chainentry",
            name="signature",
            field=models.TextField(blank=True, db_default="", default=""),
        ),
        migrations.AddField(
            model_name="chainentry",
            name="signed_by",
            field=models.CharField(blank=True, db_default="", default="", max_length=100),
        ),
        migrations.AddField(
            model_name="signingkey",
            name="retired_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="signingkey",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="signingkey",
            name="revoked_reason",
            field=models.CharField(blank=True, db_default="", default="", max_length=500),
        ),
        migrations.AlterField(
            model_name="chainentry",
            name="created",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunSQL(SQL, REVERSE_SQL),
    ]
