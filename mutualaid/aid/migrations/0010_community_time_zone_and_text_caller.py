from django.db import migrations, models

import mutualaid.aid.models


class Migration(migrations.Migration):
    dependencies = [
        ("aid", "0009_helprequest_partner"),
    ]

    operations = [
        migrations.AddField(
            model_name="community",
            name="time_zone",
            field=models.CharField(
                default=mutualaid.aid.models.default_time_zone,
                max_length=64,
                validators=[mutualaid.aid.models.validate_time_zone],
                verbose_name="time zone",
            ),
        ),
        migrations.AddField(
            model_name="helprequest",
            name="text_caller",
            field=models.BooleanField(default=False, verbose_name="text the caller when someone is coming"),
        ),
    ]
