"""Deleting a user deletes their receivers (they hold personal data, as in the original).

``send_to`` becomes text: it records every address of the user, comma-separated.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0003_admin_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="messagereceiver",
            name="user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="message_receivers",
                to=settings.AUTH_USER_MODEL,
                verbose_name="user",
            ),
        ),
        migrations.AlterField(
            model_name="messagereceiver",
            name="send_to",
            field=models.TextField(blank=True, verbose_name="send to"),
        ),
    ]
