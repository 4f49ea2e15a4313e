"""Rows carry the CHANNEL_BACKENDS alias that wrote them, so several aliases
can share one database and ``flush`` deletes only its own alias's rows."""

from django.db import migrations, models


def rows_to_their_alias(apps, schema_editor) -> None:
    """Rows from before this migration get ``backend="default"``, unless
    exactly one database backend of CHANNEL_BACKENDS uses this database: then
    they are that alias's (a project whose only alias is not "default" keeps
    its queued messages and group memberships)."""
    from channels.backends.database import DatabaseChannelBackend
    from channels.backends.registry import backend_class, backend_settings

    database = schema_editor.connection.alias
    try:
        configured = backend_settings()
    except Exception:
        return  # settings that do not load now are reported by the checks
    owners = []
    for alias, config in configured.items():
        if not isinstance(config, dict) or config.get("DB_ALIAS", "default") != database:
            continue
        try:
            cls = backend_class(config.get("BACKEND", ""))
        except Exception:
            continue
        if issubclass(cls, DatabaseChannelBackend):
            owners.append(alias)
    if len(owners) != 1 or owners[0] == "default":
        return
    for name in ("QueuedMessage", "GroupMembership", "Heartbeat"):
        apps.get_model("channels", name).objects.using(database).update(backend=owners[0])


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0002_heartbeat"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="groupmembership",
            name="channels_group_unique_member",
        ),
        migrations.RemoveIndex(
            model_name="queuedmessage",
            name="channels_msg_inbox_id",
        ),
        migrations.RemoveIndex(
            model_name="queuedmessage",
            name="channels_msg_channel_exp",
        ),
        migrations.AddField(
            model_name="groupmembership",
            name="backend",
            field=models.CharField(db_default="default", max_length=100),
        ),
        migrations.AddField(
            model_name="heartbeat",
            name="backend",
            field=models.CharField(db_default="default", max_length=100),
        ),
        migrations.AddField(
            model_name="queuedmessage",
            name="backend",
            field=models.CharField(db_default="default", max_length=100),
        ),
        migrations.RunPython(rows_to_their_alias, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="queuedmessage",
            index=models.Index(
                fields=["backend", "inbox", "id"], name="channels_msg_backend_inbox"
            ),
        ),
        migrations.AddIndex(
            model_name="queuedmessage",
            index=models.Index(
                fields=["backend", "channel", "expires"], name="channels_msg_backend_chan"
            ),
        ),
        migrations.AddConstraint(
            model_name="groupmembership",
            constraint=models.UniqueConstraint(
                fields=("backend", "group_name", "channel"), name="channels_group_member"
            ),
        ),
    ]
