"""Several sends, and a worker's turn, in one statement on PostgreSQL.

``channels_send_many`` sends a batch (an interface server's queued sends, a
consumer's replies) in one round trip and one commit; ``channels_send_pop``
is a worker's turn: the replies, then, if they all went, the next waiting
message taken without waiting. Both keep ``channels_send``'s capacity check
(migration 0004). On SQLite nothing changes: there the backend keeps one
statement per send (a transaction of several would hold the database's
write lock across Python code).
"""

from django.db import migrations

# Locks first, every channel of the batch in name order (the order of a
# group send's fan-out), so two batches, or a batch and a group send, never
# wait on each other crosswise. Then each item in order: count its channel
# with a fresh snapshot (a VOLATILE function takes one per statement, and
# the batch's own earlier inserts count), insert if there is room, NOTIFY.
# Returns one boolean per item tried (true: queued, false: full); with
# p_stop_at_full the batch ends at the first full channel.
SEND_MANY_FUNCTION = """
CREATE OR REPLACE FUNCTION channels_send_many(
    p_lock_class integer, p_backend text, p_now double precision, p_notify text,
    p_stop_at_full boolean, p_inboxes text[], p_channels text[], p_contents bytea[],
    p_expires double precision[], p_capacities integer[]
) RETURNS boolean[] LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_channel text;
    v_done boolean[] := '{}';
BEGIN
    FOR v_channel IN SELECT DISTINCT c FROM unnest(p_channels) AS c ORDER BY c LOOP
        PERFORM pg_advisory_xact_lock(p_lock_class, hashtext(v_channel));
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(p_channels, 1), 0) LOOP
        IF (SELECT count(*) FROM channels_message
            WHERE backend = p_backend AND channel = p_channels[i] AND expires > p_now
           ) >= p_capacities[i] THEN
            v_done := v_done || false;
            IF p_stop_at_full THEN
                RETURN v_done;
            END IF;
        ELSE
            INSERT INTO channels_message (backend, inbox, channel, content, expires)
                VALUES (p_backend, p_inboxes[i], p_channels[i], p_contents[i], p_expires[i]);
            PERFORM pg_notify(p_notify, p_inboxes[i]);
            v_done := v_done || true;
        END IF;
    END LOOP;
    RETURN v_done;
END
$$
"""

# A worker's turn: send the items (stopping at the first full channel) and,
# if all went, take the oldest live message of the given inboxes or full
# channel names (held rows excluded), as the backend's receive does, without
# waiting. One row: how many were sent, and the message or NULLs.
SEND_POP_FUNCTION = """
CREATE OR REPLACE FUNCTION channels_send_pop(
    p_lock_class integer, p_backend text, p_now double precision, p_notify text,
    p_inboxes text[], p_channels text[], p_contents bytea[],
    p_expires double precision[], p_capacities integer[],
    p_from_inboxes text[], p_from_channels text[], p_hold_inbox text
) RETURNS TABLE (
    sent integer, taken_channel text, taken_content bytea, taken_expires double precision
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_sent integer := 0;
BEGIN
    IF cardinality(p_channels) > 0 THEN
        SELECT count(*) INTO v_sent FROM unnest(channels_send_many(
            p_lock_class, p_backend, p_now, p_notify, true, p_inboxes, p_channels,
            p_contents, p_expires, p_capacities
        )) AS ok WHERE ok;
    END IF;
    IF v_sent < cardinality(p_channels)
       OR cardinality(p_from_inboxes) + cardinality(p_from_channels) = 0 THEN
        RETURN QUERY SELECT v_sent, NULL::text, NULL::bytea, NULL::double precision;
        RETURN;
    END IF;
    RETURN QUERY
    WITH taken AS (
        DELETE FROM channels_message AS m WHERE m.id = (
            SELECT w.id FROM channels_message AS w
            WHERE w.backend = p_backend AND w.expires > p_now
              AND (w.inbox = ANY (p_from_inboxes)
                   OR (w.channel = ANY (p_from_channels) AND w.inbox <> p_hold_inbox))
            ORDER BY w.id LIMIT 1 FOR UPDATE SKIP LOCKED
        ) RETURNING m.channel, m.content, m.expires
    )
    SELECT v_sent, t.channel::text, t.content, t.expires FROM (SELECT 1) AS one
        LEFT JOIN taken AS t ON true;
END
$$
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SEND_MANY_FUNCTION)
        cursor.execute(SEND_POP_FUNCTION)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "DROP FUNCTION IF EXISTS channels_send_pop(integer, text, double precision, text, "
            "text[], text[], bytea[], double precision[], integer[], text[], text[], text)"
        )
        cursor.execute(
            "DROP FUNCTION IF EXISTS channels_send_many(integer, text, double precision, text, "
            "boolean, text[], text[], bytea[], double precision[], integer[])"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0004_ephemeral_messages"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
