"""In the shape of a Django service such as healthchecks, with Django REST framework beside it.

What makes it hard: URLs come through `include()` of module paths, of lists held in variables
and of a REST framework router; views are protected by `login_required`, by a decorator of the
project's own that checks an API key header, or by DRF permission classes (with no default
permission set, so DRF's own default, AllowAny, leaves an `api_view` open); uWSGI runs four
processes from an ini file; the admin is mounted at `admin/`.
"""

from __future__ import annotations

from . import Sample

FILES = {
    "requirements.txt": """
        Django==5.1.3
        djangorestframework==3.15.2
        psycopg2==2.9.10
        uwsgi==2.0.28
    """,
    "manage.py": """
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hc.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
    """,
    "hc/__init__.py": "",
    "hc/settings.py": """
        import os

        SECRET_KEY = os.getenv("SECRET_KEY", "---")
        DEBUG = os.getenv("DEBUG", "") == "True"
        ROOT_URLCONF = "hc.urls"
        INSTALLED_APPS = (
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "rest_framework",
            "hc.accounts",
            "hc.api",
            "hc.front",
        )
        MIDDLEWARE = (
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        )
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": os.getenv("DB_NAME", "hc"),
                "CONN_MAX_AGE": 0,
            }
        }
        SESSION_COOKIE_SECURE = True
        CSRF_COOKIE_SECURE = True
        STATIC_URL = "/static/"
    """,
    "hc/urls.py": """
        from django.contrib import admin
        from django.urls import include, path

        from hc.api import views as api_views

        api_urls = [
            path("checks/", api_views.checks),
            path("checks/<uuid:code>/pause", api_views.pause),
        ]

        urlpatterns = [
            path("admin/", admin.site.urls),
            path("accounts/", include("hc.accounts.urls")),
            path("api/v3/", include(api_urls)),
            path("api/", include("hc.api.urls")),
            path("", include("hc.front.urls")),
        ]
    """,
    "hc/accounts/__init__.py": "",
    "hc/accounts/urls.py": """
        from django.urls import path

        from hc.accounts import views

        urlpatterns = [
            path("login/", views.login),
            path("profile/", views.profile),
        ]
    """,
    "hc/accounts/views.py": """
        from django.contrib.auth.decorators import login_required
        from django.shortcuts import render


        def login(request):
            return render(request, "accounts/login.html")


        @login_required
        def profile(request):
            return render(request, "accounts/profile.html")
    """,
    "hc/api/__init__.py": "",
    "hc/api/decorators.py": """
        from functools import wraps

        from django.http import JsonResponse

        from hc.api.models import Project


        def authorize(f):
            @wraps(f)
            def wrapper(request, *args, **kwargs):
                api_key = request.META.get("HTTP_X_API_KEY", "")
                if len(api_key) != 32:
                    return JsonResponse({"error": "missing api key"}, status=401)
                request.project = Project.objects.filter(api_key=api_key).first()
                if request.project is None:
                    return JsonResponse({"error": "wrong api key"}, status=401)
                return f(request, *args, **kwargs)

            return wrapper
    """,
    "hc/api/models.py": """
        import uuid

        from django.db import models


        class Project(models.Model):
            code = models.UUIDField(default=uuid.uuid4, unique=True)
            name = models.CharField(max_length=100)
            api_key = models.CharField(max_length=128, blank=True, db_index=True)


        class Check(models.Model):
            code = models.UUIDField(default=uuid.uuid4, db_index=True)
            name = models.CharField(max_length=100, blank=True)
            project = models.ForeignKey(Project, models.CASCADE)
            created = models.DateTimeField(auto_now_add=True)
    """,
    "hc/api/serializers.py": """
        from rest_framework import serializers

        from hc.api.models import Check


        class CheckSerializer(serializers.ModelSerializer):
            class Meta:
                model = Check
                fields = ["code", "name", "created"]
    """,
    "hc/api/views.py": """
        from django.http import JsonResponse
        from rest_framework import viewsets
        from rest_framework.decorators import api_view
        from rest_framework.permissions import AllowAny, IsAuthenticated
        from rest_framework.response import Response
        from rest_framework.views import APIView

        from hc.api.decorators import authorize
        from hc.api.models import Check
        from hc.api.serializers import CheckSerializer


        @authorize
        def checks(request):
            return JsonResponse({"checks": []})


        @authorize
        def pause(request, code):
            return JsonResponse({"paused": str(code)})


        class CheckViewSet(viewsets.ModelViewSet):
            queryset = Check.objects.all()
            serializer_class = CheckSerializer
            permission_classes = [IsAuthenticated]


        class BadgeView(APIView):
            permission_classes = [AllowAny]

            def get(self, request):
                return Response({"badge": "up"})


        @api_view(["GET"])
        def summary(request):
            return Response({"checks": Check.objects.count()})
    """,
    "hc/api/urls.py": """
        from django.urls import include, path
        from rest_framework.routers import DefaultRouter

        from hc.api import views

        router = DefaultRouter()
        router.register(r"checks", views.CheckViewSet)

        urlpatterns = [
            path("v2/", include(router.urls)),
            path("v2/badge/", views.BadgeView.as_view()),
            path("v2/summary/", views.summary),
        ]
    """,
    "hc/front/__init__.py": "",
    "hc/front/views.py": """
        from django.contrib.auth.decorators import login_required
        from django.http import HttpResponse
        from django.shortcuts import render


        @login_required
        def index(request):
            return render(request, "front/index.html")


        @login_required
        def update_name(request, code):
            return HttpResponse(status=204)


        def about(request):
            return render(request, "front/about.html")
    """,
    "hc/front/urls.py": """
        from django.urls import include, path

        from hc.front import views

        check_urls = [
            path("name/", views.update_name),
        ]

        urlpatterns = [
            path("", views.index),
            path("about/", views.about),
            path("checks/<uuid:code>/", include(check_urls)),
        ]
    """,
    "hc/api/migrations/__init__.py": "",
    "hc/api/migrations/0001_initial.py": """
        from django.db import migrations


        def fill_names(apps, schema_editor):
            pass


        class Migration(migrations.Migration):
            dependencies = []
            operations = [migrations.RunPython(fill_names)]
    """,
    "hc/api/tests/__init__.py": "",
    "hc/api/tests/test_checks.py": """
        from django.test import TestCase


        class ChecksTestCase(TestCase):
            def test_it_requires_an_api_key(self):
                response = self.client.get("/api/v3/checks/")
                self.assertEqual(response.status_code, 401)
    """,
    "docker/uwsgi.ini": """
        [uwsgi]
        master
        die-on-term
        http-socket = :8000
        processes = 4
        module = hc.wsgi:application
    """,
    "docker/Dockerfile": """
        FROM python:3.12-slim-bookworm
        COPY requirements.txt /tmp
        RUN pip install -r /tmp/requirements.txt
        COPY . /opt/healthchecks/
        USER hc
        CMD ["uwsgi", "/opt/healthchecks/docker/uwsgi.ini"]
    """,
}

SAMPLE = Sample(
    name="django",
    shape="a Django service (healthchecks-like) with include() and REST framework",
    files=FILES,
    framework="django",
    routes={
        "ANY /admin/": "infrastructure",
        "ANY /accounts/login/": "open",
        "ANY /accounts/profile/": "authenticated",
        "ANY /api/v3/checks/": "authenticated",
        "ANY /api/v3/checks/<uuid:code>/pause": "authenticated",
        "ANY /api/v2/checks/": "authenticated",
        "ANY /api/v2/badge/": "public",
        "ANY /api/v2/summary/": "open",
        "ANY /": "authenticated",
        "ANY /about/": "open",
        "ANY /checks/<uuid:code>/name/": "authenticated",
    },
    standards={
        "INF-1": "partial",
        "SEC-2": "pass",
        "SEC-3": "fail",
    },
    requirements={
        ("INF-1", "server entry point"): "met",
        ("INF-1", "no in-process workers"): "missing",
        ("SEC-1", "unknown fields rejected"): "missing",
        ("SEC-3", "every route declares access"): "missing",
        ("SEC-3", "API keys stored hashed"): "missing",
        ("DB-1", "pool size and overflow"): "missing",
        ("DB-2", "versioned migrations"): "met",
        ("DB-2", "every migration reversible"): "missing",
        ("DB-4", "indexes on foreign keys"): "not applicable",
        ("TEST-1", "API tests through the real application"): "met",
        ("API-1", "business routes under /v1"): "missing",
    },
)
