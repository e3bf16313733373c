"""Message templates as Wagtail snippets: the editors' tabs, help and warnings."""
