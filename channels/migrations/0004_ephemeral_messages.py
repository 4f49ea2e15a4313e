"""Channel messages are ephemeral: no disk flush per message on PostgreSQL.

On PostgreSQL this makes ``channels_message`` (and its id sequence)
UNLOGGED: its rows are not written to the WAL, so a transaction that only
touches it commits without waiting for a disk flush, and a crash of the
database server empties it (messages are at-most-once and expire within
seconds anyway; see docs/backends.rst). It also creates ``channels_send``,
the capacity-checked send in one statement (one round trip instead of five).
On SQLite nothing changes here: the backend sets WAL and
``synchronous = NORMAL`` on its connections instead.
"""

from django.db import migrations

# One send: serialize senders to this channel (an advisory lock held until
# the statement's transaction ends), count its live messages with a fresh
# snapshot (a VOLATILE function takes one per statement, so it sees what a
# sender that held the lock before us committed), insert if there is room,
# and NOTIFY receivers of the inbox. True if queued, false if full.
SEND_FUNCTION = """
CREATE OR REPLACE FUNCTION channels_send(
    p_lock_class integer, p_backend text, p_inbox text, p_channel text, p_content bytea,
    p_expires double precision, p_now double precision, p_capacity integer,
    p_notify text
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_class, hashtext(p_channel));
    IF (SELECT count(*) FROM channels_message
        WHERE backend = p_backend AND channel = p_channel AND expires > p_now
       ) >= p_capacity THEN
        RETURN false;
    END IF;
    INSERT INTO channels_message (backend, inbox, channel, content, expires)
        VALUES (p_backend, p_inbox, p_channel, p_content, p_expires);
    PERFORM pg_notify(p_notify, p_inbox);
    RETURN true;
END
$$
"""


def _sequence_persistence(cursor, persistence: str) -> None:
    # Sequences take SET LOGGED/UNLOGGED from PostgreSQL 15 on; before that
    # the id sequence stays logged (one flush per 32 ids, still cheap).
    cursor.execute("SHOW server_version_num")
    if int(cursor.fetchone()[0]) < 150000:
        return
    cursor.execute("SELECT pg_get_serial_sequence('channels_message', 'id')")
    sequence = cursor.fetchone()[0]
    if sequence:
        cursor.execute(f"ALTER SEQUENCE {sequence} SET {persistence}")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("ALTER TABLE channels_message SET UNLOGGED")
        _sequence_persistence(cursor, "UNLOGGED")
        cursor.execute(SEND_FUNCTION)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "DROP FUNCTION IF EXISTS channels_send(integer, text, text, text, bytea, "
            "double precision, double precision, integer, text)"
        )
        _sequence_persistence(cursor, "LOGGED")
        cursor.execute("ALTER TABLE channels_message SET LOGGED")


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0003_backend_alias"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
