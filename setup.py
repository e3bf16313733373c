"""Build hook: ship the repository's top-level ``templates/`` and ``static/`` inside the app.

The repository keeps them at its top level (the demo site reads them from there through
``TEMPLATES["DIRS"]`` and ``STATICFILES_DIRS``). An installed site finds an app's files only
inside the package, through ``APP_DIRS`` and ``AppDirectoriesFinder``, so every wheel carries
them as ``messaging/templates`` and ``messaging/static``. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
APP_DIRS = ("templates", "static")


class BuildPyWithAppDirs(build_py):
    """Copy ``templates/`` and ``static/`` into ``messaging/`` of the build directory."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            # An editable install runs from the checkout, where the demo settings point at
            # the top-level folders.
            return
        for name in APP_DIRS:
            target = Path(self.build_lib) / "messaging" / name
            shutil.copytree(ROOT / name, target, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithAppDirs})
