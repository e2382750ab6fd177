"""Callers' numbers in E.164 where they can be read (Belgian by default); one that cannot
stays as the coordinator typed it: it is for calling back, and a person can read it."""

import phonenumbers
from django.db import migrations


def convert(apps, schema_editor):
    HelpRequest = apps.get_model("aid", "HelpRequest")
    for request_id, raw in HelpRequest.objects.exclude(contact_phone="").values_list("pk", "contact_phone"):
        try:
            parsed = phonenumbers.parse(raw, "BE")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            HelpRequest.objects.filter(pk=request_id).update(contact_phone=number)


class Migration(migrations.Migration):
    dependencies = [("aid", "0010_community_time_zone_and_text_caller")]

    operations = [migrations.RunPython(convert, migrations.RunPython.noop)]
