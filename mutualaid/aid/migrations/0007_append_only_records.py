"""The database, not only the admin, keeps the records append-only.

`aid_auditentry` (what coordinators and people did, with before and after): no row is ever
updated or deleted. `aid_statuschange` (every transition of a request or an assignment):
no row is deleted, and who, what, from and to never change. Two columns of it may still be
written: `reason`, which the retention purge and account deletion redact (what people
wrote is personal data, the transition itself is not), and `at`, which the demo loader and
the statistics tests move back in time.

The admin never offered these changes (read-only admins); without a guard in the database
`AuditEntry.objects.update(...)` or `.delete()` went through. A refused write raises
`IntegrityError` naming the rule.

PostgreSQL: triggers on UPDATE and DELETE (TRUNCATE, which the test runner's flush uses,
needs the table's owner and is not guarded). SQLite (the embedded default): the same for
UPDATE; DELETE is left open there because Django's flush (transactional tests) deletes with
DELETE FROM on SQLite.

The foreign keys to these rows become PROTECT, so deleting a community, a person or a
request they name is refused by Django with a clear "protected" message instead of a
cascade that the triggers would refuse half-way.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

IDENTITY = ("help_request_id", "assignment_id", "subject", "actor_id", "from_status", "to_status")

POSTGRESQL_CREATE = [
    """
    CREATE FUNCTION aid_audit_log_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only: % of aid_auditentry % refused', TG_OP, OLD.id
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'audit_log_append_only';
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER audit_log_append_only
        BEFORE UPDATE OR DELETE ON aid_auditentry
        FOR EACH ROW EXECUTE FUNCTION aid_audit_log_append_only();
    """,
    f"""
    CREATE FUNCTION aid_status_history_append_only() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE'
           OR ({", ".join(f"OLD.{column}" for column in IDENTITY)})
              IS DISTINCT FROM ({", ".join(f"NEW.{column}" for column in IDENTITY)}) THEN
            RAISE EXCEPTION 'the status history is append-only: % of aid_statuschange % refused',
                    TG_OP, OLD.id
                USING ERRCODE = 'restrict_violation', CONSTRAINT = 'status_history_append_only';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER status_history_append_only
        BEFORE UPDATE OR DELETE ON aid_statuschange
        FOR EACH ROW EXECUTE FUNCTION aid_status_history_append_only();
    """,
]

POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS audit_log_append_only ON aid_auditentry",
    "DROP FUNCTION IF EXISTS aid_audit_log_append_only()",
    "DROP TRIGGER IF EXISTS status_history_append_only ON aid_statuschange",
    "DROP FUNCTION IF EXISTS aid_status_history_append_only()",
]

SQLITE_CREATE = [
    """
    CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE ON aid_auditentry
    BEGIN
        SELECT RAISE(ABORT, 'audit_log_append_only: the audit log is append-only');
    END
    """,
    f"""
    CREATE TRIGGER status_history_append_only
    BEFORE UPDATE ON aid_statuschange
    WHEN {" OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in IDENTITY)}
    BEGIN
        SELECT RAISE(ABORT, 'status_history_append_only: the status history is append-only');
    END
    """,
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_log_append_only",
    "DROP TRIGGER IF EXISTS status_history_append_only",
]


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise RuntimeError(f"No append-only guard written for {vendor}; add one to this migration.")
    for statement in statements[vendor]:
        schema_editor.execute(statement, params=None)  # no placeholders: PL/pgSQL uses '%'


def create_guards(apps, schema_editor) -> None:
    _run(schema_editor, {"postgresql": POSTGRESQL_CREATE, "sqlite": SQLITE_CREATE})


def drop_guards(apps, schema_editor) -> None:
    _run(schema_editor, {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP})


class Migration(migrations.Migration):
    dependencies = [
        ("aid", "0006_volunteer_capacity_guard"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="actor",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="community",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="audit_entries",
                to="aid.community",
            ),
        ),
        migrations.AlterField(
            model_name="statuschange",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty when the system made the change (matching, expiry).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="statuschange",
            name="assignment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="status_changes",
                to="aid.assignment",
            ),
        ),
        migrations.AlterField(
            model_name="statuschange",
            name="help_request",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="status_changes", to="aid.helprequest"
            ),
        ),
        migrations.RunPython(create_guards, drop_guards),
    ]
