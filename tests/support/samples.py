"""Small services that did not come from the template, written file by file for the audit tests.

Two layouts a platform team meets every day: a Flask app with a requirements file, a plain
single-stage Dockerfile and an unpinned CI workflow; and a Django + REST framework project with
Celery. Each is realistic enough to pass some standards, miss others and have some not apply,
which is what the audit must tell apart.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from goldenpath.audit import Report
from goldenpath.audit.model import Outcome


def outcome(report: Report, standard: str, name: str) -> Outcome:
    """The outcome of one requirement of `standard` in `report`, by the requirement's name."""
    return next(r.outcome for r in report.result(standard).requirements if r.name == name)


def access(report: Report) -> dict[str, str]:
    """Each route the audit found (`METHOD /path`) with how it is reached."""
    return {f"{route.method} {route.path}": route.access for route in report.routes}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


FLASK_SERVICE = {
    "requirements.txt": """
        flask==3.0.3
        gunicorn==22.0.0
        requests==2.32.3
        structlog==24.4.0
    """,
    "requirements-dev.txt": """
        pytest==8.3.2
        flake8==7.1.0
    """,
    "app.py": """
        import os

        import requests
        import structlog
        from flask import Flask, jsonify, request

        app = Flask(__name__)
        app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
        log = structlog.get_logger()

        PRICES_URL = os.environ.get("PRICES_URL", "http://prices:8080")
        orders = {}


        @app.get("/health")
        def health():
            return {"status": "ok"}


        @app.route("/orders", methods=["GET", "POST"])
        def orders_view():
            if request.method == "POST":
                order = request.get_json()
                orders[order["id"]] = order
                return jsonify(order), 201
            return jsonify(list(orders.values()))


        @app.get("/orders/<order_id>")
        def get_order(order_id):
            price = requests.get(f"{PRICES_URL}/prices/{order_id}", timeout=2).json()
            return jsonify({**orders[order_id], "price": price})
    """,
    "Dockerfile": """
        FROM python:3.12-slim
        WORKDIR /app
        COPY . .
        RUN pip install --no-cache-dir -r requirements.txt
        CMD gunicorn -w 4 -b 0.0.0.0:8000 app:app
    """,
    "tests/test_app.py": """
        from app import app


        def test_health():
            assert app.test_client().get("/health").status_code == 200


        def test_create_order():
            response = app.test_client().post("/orders", json={"id": "1"})
            assert response.status_code == 201
    """,
    ".github/workflows/ci.yml": """
        name: ci
        on: [push]
        jobs:
          test:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
              - uses: actions/setup-python@v5
                with:
                  python-version: "3.12"
              - run: pip install -r requirements.txt -r requirements-dev.txt
              - run: flake8 .
              - run: pytest
    """,
}


DJANGO_SERVICE = {
    "pyproject.toml": """
        [project]
        name = "shop"
        version = "1.0.0"
        requires-python = ">=3.12"
        dependencies = [
            "django>=5.1",
            "djangorestframework>=3.15",
            "psycopg[binary]>=3.2",
            "celery>=5.4",
            "redis>=5.0",
            "gunicorn>=22.0",
            "whitenoise>=6.7",
        ]

        [dependency-groups]
        dev = ["pytest-django>=4.9", "ruff>=0.6", "mypy>=1.11"]
    """,
    "manage.py": """
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
    """,
    "shop/__init__.py": "",
    "shop/settings.py": """
        import os

        SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
        DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
        ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")
        ROOT_URLCONF = "shop.urls"
        INSTALLED_APPS = [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.staticfiles",
            "rest_framework",
            "orders",
        ]
        MIDDLEWARE = [
            "django.middleware.security.SecurityMiddleware",
            "whitenoise.middleware.WhiteNoiseMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ]
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": os.environ.get("POSTGRES_DB", "shop"),
                "CONN_MAX_AGE": 60,
                "CONN_HEALTH_CHECKS": True,
            }
        }
        REST_FRAMEWORK = {
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        }
        STATIC_URL = "/static/"
        STORAGES = {
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
        }
        CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://redis:6379/0")
    """,
    "shop/urls.py": """
        from django.urls import include, path

        from orders import views

        urlpatterns = [
            path("healthz/", views.healthz),
            path("api/v1/", include("orders.urls")),
        ]
    """,
    "orders/__init__.py": "",
    "orders/models.py": """
        import uuid

        from django.db import models


        class Customer(models.Model):
            id = models.UUIDField(primary_key=True, default=uuid.uuid4)
            email = models.EmailField(unique=True)


        class Order(models.Model):
            id = models.UUIDField(primary_key=True, default=uuid.uuid4)
            customer = models.ForeignKey(Customer, on_delete=models.PROTECT)
            total_cents = models.IntegerField()
            created_at = models.DateTimeField(auto_now_add=True)

            class Meta:
                constraints = [
                    models.CheckConstraint(
                        condition=models.Q(total_cents__gte=0), name="total_not_negative"
                    ),
                ]
    """,
    "orders/migrations/__init__.py": "",
    "orders/migrations/0001_initial.py": """
        from django.db import migrations, models


        def backfill(apps, schema_editor):
            pass


        class Migration(migrations.Migration):
            initial = True
            dependencies = []
            operations = [
                migrations.CreateModel(
                    name="Order",
                    fields=[("id", models.UUIDField(primary_key=True, serialize=False))],
                ),
                migrations.RunPython(backfill),
            ]
    """,
    "orders/serializers.py": """
        from rest_framework import serializers

        from .models import Order


        class OrderSerializer(serializers.ModelSerializer):
            class Meta:
                model = Order
                fields = ["id", "customer", "total_cents", "created_at"]
    """,
    "orders/views.py": """
        from django.db import transaction
        from django.http import JsonResponse
        from rest_framework import viewsets

        from .models import Order
        from .serializers import OrderSerializer
        from .tasks import send_receipt


        def healthz(request):
            return JsonResponse({"status": "ok"})


        class OrderViewSet(viewsets.ModelViewSet):
            queryset = Order.objects.all()
            serializer_class = OrderSerializer

            def perform_create(self, serializer):
                order = serializer.save()
                transaction.on_commit(lambda: send_receipt.delay(str(order.id)))
    """,
    "orders/urls.py": """
        from django.urls import include, path
        from rest_framework.routers import DefaultRouter

        from .views import OrderViewSet

        router = DefaultRouter()
        router.register(r"orders", OrderViewSet)

        urlpatterns = [path("", include(router.urls))]
    """,
    "orders/tasks.py": """
        from celery import shared_task


        @shared_task(autoretry_for=(ConnectionError,), max_retries=5, retry_backoff=True)
        def send_receipt(order_id):
            return order_id
    """,
    "orders/tests.py": """
        from django.db import IntegrityError
        from rest_framework.test import APITestCase


        class OrderTests(APITestCase):
            def test_list_requires_login(self):
                self.assertEqual(self.client.get("/api/v1/orders/").status_code, 403)

            def test_negative_total_is_refused(self):
                with self.assertRaises(IntegrityError):
                    pass
    """,
    "Procfile": """
        web: gunicorn shop.wsgi --workers 1
        worker: celery -A shop worker
    """,
    "Dockerfile": """
        FROM python:3.12-slim AS build
        RUN pip wheel --wheel-dir /wheels django djangorestframework
        FROM python:3.12-slim
        COPY --from=build /wheels /wheels
        RUN pip install /wheels/*
        COPY . /app
        USER 10001
        CMD ["gunicorn", "shop.wsgi", "--bind", "0.0.0.0:8000"]
    """,
    ".dockerignore": ".git\n.env\n",
}


def flask_service(root: Path) -> Path:
    return write(root, FLASK_SERVICE)


def django_service(root: Path) -> Path:
    return write(root, DJANGO_SERVICE)
