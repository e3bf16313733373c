from django.apps import AppConfig


class DemoSiteConfig(AppConfig):
    """The demo site: its management commands (demo data, SMTP server, benchmarks)."""

    name = "config"
    label = "demo_site"
    verbose_name = "Messaging demo site"
