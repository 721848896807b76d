from django.db import migrations


def forwards(apps, schema_editor):
    from apps.accounts.seed import seed_reference_data

    seed_reference_data(
        apps.get_model("accounts", "Permission"),
        apps.get_model("accounts", "Role"),
        apps.get_model("accounts", "RolePermission"),
        apps.get_model("departments", "Department"),
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("departments", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
