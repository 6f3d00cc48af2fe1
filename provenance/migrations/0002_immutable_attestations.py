"""Attestations, their subject links and chain entries are append-only.

The application never updates or deletes them, except for setting ``superseded_by`` once; these
triggers make the database refuse everything else, so a bug cannot quietly rewrite history.
Someone with owner rights can still disable a trigger: that is what ``verify_store`` detects.
The SQLSTATE is integrity_constraint_violation, so Django raises IntegrityError.
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION provenance_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION provenance_attestation_append_only() RETURNS trigger AS $$
BEGIN
    -- The one change allowed: setting superseded_by once, and nothing else in the row.
    IF TG_OP = 'UPDATE'
       AND OLD.superseded_by_id IS NULL
       AND (to_jsonb(NEW) - 'superseded_by_id') = (to_jsonb(OLD) - 'superseded_by_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER attestation_append_only BEFORE UPDATE OR DELETE ON provenance_attestation
    FOR EACH ROW EXECUTE FUNCTION provenance_attestation_append_only();
CREATE TRIGGER attestation_subjects_append_only
    BEFORE UPDATE OR DELETE ON provenance_attestation_subjects
    FOR EACH ROW EXECUTE FUNCTION provenance_append_only();
CREATE TRIGGER chainentry_append_only BEFORE UPDATE OR DELETE ON provenance_chainentry
    FOR EACH ROW EXECUTE FUNCTION provenance_append_only();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS attestation_append_only ON provenance_attestation;
DROP TRIGGER IF EXISTS attestation_subjects_append_only ON provenance_attestation_subjects;
DROP TRIGGER IF EXISTS chainentry_append_only ON provenance_chainentry;
DROP FUNCTION IF EXISTS provenance_attestation_append_only();
DROP FUNCTION IF EXISTS provenance_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("provenance", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
