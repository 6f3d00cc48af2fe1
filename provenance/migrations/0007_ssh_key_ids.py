"""Key ids become SSH SHA256 fingerprints (what Chains writes as DSSE keyid, what `ssh-keygen -l`
prints). Each registered key's id is recomputed from its public key; the id it had before (base64
of the sha256 of the DER public key) is kept in ``legacy_key_id``, because attestations signed
before this change carry it and are immutable."""

from django.db import migrations, models


def to_ssh_fingerprints(apps, schema_editor):
    from provenance.core.signing import key_id_of, load_public_key

    SigningKey = apps.get_model("provenance", "SigningKey")
    for key in SigningKey.objects.all():
        new_id = key_id_of(load_public_key(key.public_key_pem))
        if new_id != key.key_id:
            key.legacy_key_id, key.key_id = key.key_id, new_id
            key.save(update_fields=["key_id", "legacy_key_id"])


def back_to_legacy(apps, schema_editor):
    SigningKey = apps.get_model("provenance", "SigningKey")
    for key in SigningKey.objects.exclude(legacy_key_id=""):
        key.key_id, key.legacy_key_id = key.legacy_key_id, ""
        key.save(update_fields=["key_id", "legacy_key_id"])


class Migration(migrations.Migration):
    dependencies = [("provenance", "0006_sso")]

    operations = [
        migrations.AddField(
            model_name="signingkey",
            name="legacy_key_id",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.RunPython(to_ssh_fingerprints, back_to_legacy),
    ]
