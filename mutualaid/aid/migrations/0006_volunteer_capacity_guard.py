"""The database, not only the code, keeps a volunteer within their capacity.

A volunteer's live tasks (proposed or accepted) may not outnumber the `capacity` of their
offer. A CHECK constraint cannot count other rows, so this is a trigger on
`aid_assignment`, written per database: Django has no trigger operation, and
django-pgtrigger covers PostgreSQL only, while the embedded default is SQLite.

PostgreSQL: the trigger locks the volunteer's offer row before counting, so concurrent
transactions giving tasks to one volunteer count one after the other (READ COMMITTED
takes a fresh snapshot for the count once the lock is granted). SQLite runs one writing
transaction at a time, so a plain count is enough there.

A task that is already live and stays with the same volunteer (proposed -> accepted) is
not counted again: a volunteer who lowers their capacity keeps what they carry.
"""

from django.db import migrations

LIVE = "('proposed', 'accepted')"

POSTGRESQL_CREATE = f"""
CREATE FUNCTION aid_assignment_within_volunteer_capacity() RETURNS trigger AS $$
DECLARE
    allowed integer;
    carrying integer;
BEGIN
    IF NEW.status NOT IN {LIVE} THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status IN {LIVE} AND OLD.volunteer_id = NEW.volunteer_id THEN
        RETURN NEW;
    END IF;
    SELECT capacity INTO allowed FROM aid_volunteeroffer
        WHERE volunteer_id = NEW.volunteer_id FOR UPDATE;
    SELECT count(*) INTO carrying FROM aid_assignment
        WHERE volunteer_id = NEW.volunteer_id AND status IN {LIVE} AND id IS DISTINCT FROM NEW.id;
    IF carrying >= coalesce(allowed, 0) THEN
        RAISE EXCEPTION 'volunteer % already carries % live tasks, their capacity is %',
                NEW.volunteer_id, carrying, coalesce(allowed, 0)
            USING ERRCODE = 'check_violation', CONSTRAINT = 'assignment_within_volunteer_capacity';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER assignment_within_volunteer_capacity
    BEFORE INSERT OR UPDATE OF status, volunteer_id ON aid_assignment
    FOR EACH ROW EXECUTE FUNCTION aid_assignment_within_volunteer_capacity();
"""

POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS assignment_within_volunteer_capacity ON aid_assignment;
DROP FUNCTION IF EXISTS aid_assignment_within_volunteer_capacity();
"""

SQLITE_CREATE = [
    f"""
    CREATE TRIGGER assignment_within_volunteer_capacity_insert
    BEFORE INSERT ON aid_assignment
    WHEN NEW.status IN {LIVE}
    BEGIN
        SELECT RAISE(ABORT, 'assignment_within_volunteer_capacity: the volunteer carries their capacity')
        WHERE (SELECT count(*) FROM aid_assignment
               WHERE volunteer_id = NEW.volunteer_id AND status IN {LIVE})
            >= coalesce((SELECT capacity FROM aid_volunteeroffer WHERE volunteer_id = NEW.volunteer_id), 0);
    END
    """,
    f"""
    CREATE TRIGGER assignment_within_volunteer_capacity_update
    BEFORE UPDATE OF status, volunteer_id ON aid_assignment
    WHEN NEW.status IN {LIVE} AND NOT (OLD.status IN {LIVE} AND OLD.volunteer_id = NEW.volunteer_id)
    BEGIN
        SELECT RAISE(ABORT, 'assignment_within_volunteer_capacity: the volunteer carries their capacity')
        WHERE (SELECT count(*) FROM aid_assignment
               WHERE volunteer_id = NEW.volunteer_id AND status IN {LIVE} AND id != NEW.id)
            >= coalesce((SELECT capacity FROM aid_volunteeroffer WHERE volunteer_id = NEW.volunteer_id), 0);
    END
    """,
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS assignment_within_volunteer_capacity_insert",
    "DROP TRIGGER IF EXISTS assignment_within_volunteer_capacity_update",
]


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise RuntimeError(f"No volunteer capacity guard written for {vendor}; add one to this migration.")
    for statement in statements[vendor]:
        schema_editor.execute(statement, params=None)  # no placeholders: PL/pgSQL uses '%'


def create_guard(apps, schema_editor) -> None:
    _run(schema_editor, {"postgresql": [POSTGRESQL_CREATE], "sqlite": SQLITE_CREATE})


def drop_guard(apps, schema_editor) -> None:
    _run(schema_editor, {"postgresql": [POSTGRESQL_DROP], "sqlite": SQLITE_DROP})


class Migration(migrations.Migration):
    dependencies = [
        ("aid", "0005_category_names"),
    ]

    operations = [migrations.RunPython(create_guard, drop_guard)]
