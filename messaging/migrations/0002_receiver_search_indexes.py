"""Trigram indexes for the admin's receiver search, on PostgreSQL only.

Django's ``icontains`` is ``UPPER(col::text) LIKE UPPER('%term%')`` on PostgreSQL, which
no B-tree index can answer; a trigram GIN index on the same expression can, so that a
search among a million receivers reads only the matching rows. The ``pg_trgm`` extension
is trusted (any database owner may create it since PostgreSQL 13). Where it cannot be
created, the indexes are skipped and searching still works, only slower. Other databases
are left alone. The indexes live outside the model state: Django cannot express them
portably.
"""

from django.db import migrations, transaction

INDEXES = {
    "msg_rcv_subject_trgm": "subject",
    "msg_rcv_send_to_trgm": "send_to",
}


def create_indexes(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as error:  # noqa: BLE001 - any refusal means: go on without
            print(f"\n  messaging: no pg_trgm ({error}); receiver search stays unindexed")
            return
        for name, column in INDEXES.items():
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON messaging_messagereceiver "
                f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
            )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
