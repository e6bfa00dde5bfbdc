from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("info/", views.info),
    path("upload/", views.upload),
    path("form/", views.form),
    path("boom/", views.boom),
    path("download/<str:name>", views.download),
    path("stream/", views.stream),
]
