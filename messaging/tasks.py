"""Task wrappers around the delivery pipeline; the work lives in :mod:`messaging.sending`."""

from django_tasks import task

from . import sending


@task()
def deliver_receivers(receiver_ids: list[int]) -> dict:
    """Deliver one batch of receivers. Failures are recorded on each receiver, never raised."""
    return sending.deliver(receiver_ids)
