"""Coordinators given the admin before HelpSeries joined it (grant_coordinator_admin) get
its view permission too, so recurring help shows in their admin without re-running
bootstrap_community."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Whoever could view help requests in the admin was given it as a coordinator.
GRANTED_WITH = "view_helprequest"
NEW_PERMISSION = "view_helpseries"


def grant_view_helpseries(apps, schema_editor) -> None:
    # Permissions are created after `migrate`; a database migrated in one go from before
    # HelpSeries would not have this one yet.
    aid = apps.get_app_config("aid")
    aid.models_module = True
    create_permissions(aid, apps=apps, verbosity=0)
    aid.models_module = None
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("accounts", "User")
    new = Permission.objects.get(content_type__app_label="aid", codename=NEW_PERMISSION)
    coordinators = User.objects.filter(
        is_coordinator=True,
        user_permissions__content_type__app_label="aid",
        user_permissions__codename=GRANTED_WITH,
    ).exclude(user_permissions=new)
    new.user_set.add(*coordinators)


class Migration(migrations.Migration):
    dependencies = [
        ("aid", "0026_help_series_people_needed"),
        ("accounts", "0004_convert_phone_numbers_to_e164"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_view_helpseries, migrations.RunPython.noop)]
