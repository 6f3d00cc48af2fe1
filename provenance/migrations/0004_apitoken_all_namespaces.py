"""Tokens say explicitly that they cover every namespace (``all_namespaces``).

Before this, an empty ``namespaces`` list silently meant "every namespace". Existing tokens keep
what they had: an empty list becomes ``all_namespaces=True``. From now on a token names its
namespaces or sets ``all_namespaces``, never both and never neither (a check constraint).
"""

from django.db import migrations, models


def empty_list_means_all(apps, schema_editor):
    ApiToken = apps.get_model("provenance", "ApiToken")
    ApiToken.objects.filter(namespaces=[]).update(all_namespaces=True)


class Migration(migrations.Migration):
    dependencies = [
        ("provenance", "0003_namespace_grants"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="all_namespaces",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(empty_list_means_all, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("all_namespaces", True), ("namespaces__len", 0)),
                    models.Q(("all_namespaces", False), ("namespaces__len__gt", 0)),
                    _connector="OR",
                ),
                name="apitoken_namespaces_explicit",
            ),
        ),
    ]
