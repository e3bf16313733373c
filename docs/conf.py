"""Sphinx configuration of the wagtail-messaging documentation (MyST Markdown, as Wagtail's).

Build it with ``make docs`` (``sphinx-build -W``: any warning fails the build).
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]  # messaging itself, and our extension

project = "wagtail-messaging"
author = "the wagtail-messaging contributors"
copyright = "2026, the wagtail-messaging contributors"
release = "1.0.0"
version = "1.0"

extensions = ["myst_parser", "messaging_settings"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
language = "en"

# Links to headings of other pages (`settings.md#messaging_batch_size`) are checked.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

html_theme = "furo"
html_title = "wagtail-messaging 1.0"
html_static_path = ["_static"]
