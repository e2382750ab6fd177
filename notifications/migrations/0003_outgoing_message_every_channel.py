from django.conf import settings
from django.db import migrations, models


def set_status(apps, schema_editor):
    """Messages sent, given up on or skipped keep what happened to them as a status."""
    OutgoingMessage = apps.get_model("notifications", "OutgoingMessage")
    OutgoingMessage.objects.filter(sent_at__isnull=False).update(status="sent")
    waiting = OutgoingMessage.objects.filter(sent_at__isnull=True)
    waiting.filter(last_error__startswith="not sent:").update(status="skipped")
    waiting.filter(status="pending", attempts__gte=5).update(status="failed")
    for message in OutgoingMessage.objects.filter(status="pending"):
        message.next_attempt_at = message.created_at
        message.save(update_fields=["next_attempt_at"])


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0002_outgoing_email_proposal"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameModel("OutgoingEmail", "OutgoingMessage"),
        migrations.AlterModelOptions(
            name="outgoingmessage",
            options={"ordering": ["created_at"], "verbose_name": "outgoing message", "verbose_name_plural": "outgoing messages"},
        ),
        migrations.AddField(
            model_name="outgoingmessage",
            name="channel",
            field=models.CharField(choices=[("email", "e-mail")], default="email", max_length=16),
        ),
        migrations.AlterField(
            model_name="outgoingmessage",
            name="to_address",
            field=models.CharField(max_length=500),
        ),
        migrations.AddField(
            model_name="outgoingmessage",
            name="status",
            field=models.CharField(
                choices=[("pending", "waiting to be sent"), ("sent", "sent"), ("failed", "failed: gave up after several tries"), ("skipped", "not sent: no longer needed")],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="outgoingmessage",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="outgoingmessage",
            index=models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
        ),
        migrations.RunPython(set_status, migrations.RunPython.noop),
    ]
