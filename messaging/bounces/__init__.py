"""After the relay said yes: bounces, complaints and delivery events per receiver.

- :func:`messaging.bounces.verp.mark_email` signs each email's return path and Message-ID;
- :func:`messaging.bounces.intake.apply_reports` records reports and suppresses addresses;
- :func:`messaging.bounces.scope.scope` says which address a report may act on (only
  one that its receiver's email went to);
- :func:`messaging.bounces.maildir.process_maildir` and :mod:`messaging.bounces.server`
  read reports from a Maildir and from an SMTP/LMTP listener;
- :mod:`messaging.bounces.anymail` maps django-anymail's tracking events (when installed);
- :func:`messaging.bounces.suppression.refuse_suppressed` keeps suppressed addresses out.
"""
