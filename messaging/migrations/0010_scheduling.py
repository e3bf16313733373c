from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0009_verbose_names'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='message',
            options={'ordering': ['-created_datetime'], 'permissions': [('stop_message', 'Can stop, resume and reschedule messages')], 'verbose_name': 'message', 'verbose_name_plural': 'messages'},
        ),
        migrations.AddField(
            model_name='message',
            name='expires_at',
            field=models.DateTimeField(blank=True, help_text='Receivers not sent by this time become expired and are never sent.', null=True, verbose_name='expires at'),
        ),
        migrations.AddField(
            model_name='message',
            name='priority',
            field=models.CharField(choices=[('high', 'High'), ('normal', 'Normal'), ('low', 'Low')], default='normal', max_length=8, verbose_name='priority'),
        ),
        migrations.AddField(
            model_name='message',
            name='send_at',
            field=models.DateTimeField(blank=True, help_text='Nothing of this message is sent before this time.', null=True, verbose_name='send at'),
        ),
        migrations.AlterField(
            model_name='message',
            name='status',
            field=models.CharField(choices=[('draft', 'Draft'), ('preparing', 'Preparing'), ('scheduled', 'Scheduled'), ('sending', 'Sending'), ('sent', 'Sent'), ('cancelled', 'Cancelled'), ('error', 'Error')], db_index=True, default='draft', max_length=16, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='messagereceiver',
            name='status',
            field=models.CharField(choices=[('not_sent', 'Not sent'), ('failed', 'Failed'), ('error', 'Error'), ('sent', 'Sent'), ('digest_pending', 'Waiting for digest'), ('expired', 'Expired'), ('cancelled', 'Cancelled')], default='not_sent', max_length=16, verbose_name='status'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('status', 'scheduled')), fields=['send_at'], name='msg_scheduled'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('expires_at__isnull', False)), fields=['expires_at'], name='msg_expires'),
        ),
    ]
