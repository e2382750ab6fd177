"""Existing phone numbers in E.164 (read as Belgian when typed without a country code);
one that cannot be read is moved to `phone_to_check` for a coordinator, never lost."""

import phonenumbers
from django.db import migrations


def to_e164(raw: str) -> str:
    """The E.164 form of a number as people type it, or "" when it is not a valid number."""
    try:
        parsed = phonenumbers.parse(raw, "BE")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def convert(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    table = schema_editor.connection.ops.quote_name(User._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        # Raw values: the new field would try to parse them on reading.
        cursor.execute(f"SELECT id, phone FROM {table} WHERE phone <> ''")  # noqa: S608 (no input)
        rows = cursor.fetchall()
    for user_id, raw in rows:
        number = to_e164(raw)
        if number:
            User.objects.filter(pk=user_id).update(phone=number)
        else:
            User.objects.filter(pk=user_id).update(phone="", phone_to_check=raw[:32])


def back(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    for user in User.objects.exclude(phone_to_check=""):
        User.objects.filter(pk=user.pk).update(phone=user.phone_to_check, phone_to_check="")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_user_phone_e164_and_text_choice")]

    operations = [migrations.RunPython(convert, back)]
