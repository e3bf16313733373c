import importlib.util

from django.contrib import admin
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

urlpatterns = [
    path("django-admin/", admin.site.urls),
    path("admin/", include(wagtailadmin_urls)),
    path("messaging/", include("messaging.urls")),
    path("", include(wagtail_urls)),
]

if importlib.util.find_spec("anymail"):
    # Provider webhooks (delivery, bounce and complaint events) when django-anymail is there.
    urlpatterns.insert(0, path("anymail/", include("anymail.urls")))
