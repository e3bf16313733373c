"""The messaging pages for users; a site includes them under ``messaging/``:

    path("messaging/", include("messaging.urls")),

which gives ``/messaging/preferences/`` and ``/messaging/unsubscribe/<token>/``.
"""

from django.urls import include, path

app_name = "messaging"

urlpatterns = [path("", include("messaging.preferences.urls"))]
