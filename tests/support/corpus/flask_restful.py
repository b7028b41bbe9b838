"""In the shape of a Flask service such as redash: blueprints and Flask-RESTful resources.

What makes it hard: most routes are Flask-RESTful resources registered with `api.add_resource`
(and through a project helper around it) on an `Api` with a prefix, protected by a base class's
`decorators = [login_required]`; blueprint routes use `login_required` directly; the server is
gunicorn started by an entry-point script with `-w${WORKERS:-4}`; outbound HTTP is retried with
backoff but under no overall deadline (a `requests.Timeout` import is not one); Flask-Limiter
keeps its counters in Redis.
"""

from __future__ import annotations

from . import Sample

FILES = {
    "pyproject.toml": """
        [tool.poetry]
        name = "redash"
        version = "25.1.0"

        [tool.poetry.dependencies]
        python = ">=3.10,<3.13"
        flask = "2.3.2"
        flask-restful = "0.3.10"
        flask-login = "0.6.3"
        flask-limiter = "3.8.0"
        flask-sqlalchemy = "3.1.1"
        psycopg2-binary = "2.9.9"
        redis = "4.6.0"
        requests = "2.32.3"
        backoff = "2.2.1"
        gunicorn = "22.0.0"

        [tool.poetry.group.dev.dependencies]
        pytest = "7.4.0"
    """,
    "bin/docker-entrypoint": """
        #!/bin/bash
        set -e

        server() {
          exec gunicorn -b 0.0.0.0:5000 --name redash -w${REDASH_WEB_WORKERS:-4} redash.wsgi:app
        }

        case "$1" in
          server)
            shift
            server
            ;;
          *)
            exec "$@"
            ;;
        esac
    """,
    "Dockerfile": """
        FROM python:3.10-slim-bookworm
        COPY . /app
        RUN pip install /app
        USER redash
        ENTRYPOINT ["/app/bin/docker-entrypoint"]
        CMD ["server"]
    """,
    "redash/__init__.py": """
        from flask import Flask
        from flask_login import LoginManager
        from flask_sqlalchemy import SQLAlchemy

        from redash import settings

        db = SQLAlchemy()
        login_manager = LoginManager()


        def create_app():
            from redash.handlers import api, routes
            from redash.limiter import limiter

            app = Flask(__name__)
            app.config["SQLALCHEMY_DATABASE_URI"] = settings.DATABASE_URL
            db.init_app(app)
            login_manager.init_app(app)
            limiter.init_app(app)
            app.register_blueprint(routes)
            api.init_app(app)
            return app
    """,
    "redash/settings.py": """
        import os

        DATABASE_URL = os.environ.get("REDASH_DATABASE_URL", "postgresql:///postgres")
        REDIS_URL = os.environ.get("REDASH_REDIS_URL", "redis://localhost:6379/0")
        LIMITER_STORAGE = os.environ.get("REDASH_LIMITER_STORAGE", REDIS_URL)
        THROTTLE_LOGIN_PATTERN = os.environ.get("REDASH_THROTTLE_LOGIN_PATTERN", "50/hour")
    """,
    "redash/limiter.py": """
        from flask_limiter import Limiter
        from flask_limiter.util import get_remote_address

        from redash import settings

        limiter = Limiter(key_func=get_remote_address, storage_uri=settings.LIMITER_STORAGE)
    """,
    "redash/models.py": """
        from redash import db


        class Query(db.Model):
            id = db.Column(db.Integer, primary_key=True)
            name = db.Column(db.String(255), nullable=False)
            data_source_id = db.Column(db.Integer, db.ForeignKey("data_sources.id"))


        class DataSource(db.Model):
            __tablename__ = "data_sources"
            id = db.Column(db.Integer, primary_key=True)
            name = db.Column(db.String(255), nullable=False, unique=True)
    """,
    "redash/destinations.py": """
        import backoff
        import requests
        from requests import Timeout


        @backoff.on_exception(backoff.expo, (Timeout, requests.ConnectionError), max_tries=5)
        def notify(url, payload):
            return requests.post(url, json=payload, timeout=10)
    """,
    "redash/handlers/__init__.py": """
        from flask import Blueprint

        routes = Blueprint("redash", __name__, template_folder="templates")

        from redash.handlers import authentication, base, queries  # noqa: E402
        from redash.handlers.api import api  # noqa: E402
    """,
    "redash/handlers/base.py": """
        from flask_login import login_required
        from flask_restful import Resource

        from redash.handlers import routes


        class BaseResource(Resource):
            decorators = [login_required]


        @routes.route("/ping", methods=["GET"])
        def ping():
            return "PONG."
    """,
    "redash/handlers/authentication.py": """
        from flask import redirect, render_template, request
        from flask_login import login_required, login_user

        from redash.handlers import routes
        from redash.limiter import limiter
        from redash import settings


        @routes.route("/login", methods=["GET", "POST"])
        @limiter.limit(settings.THROTTLE_LOGIN_PATTERN)
        def login():
            if request.method == "POST":
                login_user(None)
                return redirect("/")
            return render_template("login.html")


        @routes.route("/logout")
        @login_required
        def logout():
            return redirect("/login")
    """,
    "redash/handlers/queries.py": """
        from flask import request
        from flask_restful import Resource

        from redash.handlers.base import BaseResource
        from redash.models import Query


        class QueryListResource(BaseResource):
            def get(self):
                return [q.id for q in Query.query.all()]

            def post(self):
                query = Query(name=request.get_json()["name"])
                return {"id": query.id}


        class QueryResource(BaseResource):
            def get(self, query_id):
                return {"id": query_id}

            def delete(self, query_id):
                return None, 204


        class EmbedResource(Resource):
            def get(self, query_id):
                return {"embed": query_id}
    """,
    "redash/handlers/api.py": """
        from flask_restful import Api

        from redash.handlers.queries import EmbedResource, QueryListResource, QueryResource


        class ApiExt(Api):
            def add_org_resource(self, resource, *urls, **kwargs):
                return self.add_resource(resource, *urls, **kwargs)


        api = ApiExt(prefix="/api")
        api.add_org_resource(QueryListResource, "/queries", endpoint="queries")
        api.add_org_resource(QueryResource, "/queries/<query_id>", endpoint="query")
        api.add_resource(EmbedResource, "/embed/query/<query_id>", endpoint="embed")
    """,
    "redash/wsgi.py": """
        from redash import create_app

        app = create_app()
    """,
    "tests/__init__.py": "",
    "tests/test_handlers.py": """
        from redash import create_app


        def test_ping():
            client = create_app().test_client()
            assert client.get("/ping").data == b"PONG."


        def test_queries_need_a_login():
            client = create_app().test_client()
            assert client.get("/api/queries").status_code == 302
    """,
    ".github/workflows/ci.yml": """
        name: ci
        on: [push]
        permissions:
          contents: read
        jobs:
          backend:
            runs-on: ubuntu-latest
            services:
              postgres:
                image: postgres:16
              redis:
                image: redis:7
            steps:
              - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
              - run: pip install poetry && poetry install
              - run: poetry run pytest tests
    """,
}

SAMPLE = Sample(
    name="flask",
    shape="a Flask service (redash-like) with blueprints and Flask-RESTful",
    files=FILES,
    framework="flask",
    routes={
        "GET /ping": "infrastructure",
        "GET|POST /login": "open",
        "GET /logout": "authenticated",
        "GET|POST /api/queries": "authenticated",
        "DELETE|GET /api/queries/<query_id>": "authenticated",
        "GET /api/embed/query/<query_id>": "open",
    },
    standards={
        "INF-1": "partial",
        "SEC-4": "partial",
        "RES-2": "partial",
    },
    requirements={
        ("INF-1", "no in-process workers"): "missing",
        ("SEC-3", "every route declares access"): "missing",
        ("SEC-4", "rate limiter"): "met",
        ("SEC-4", "shared store"): "met",
        ("SEC-4", "per IP and per caller"): "missing",
        ("RES-2", "retries with exponential backoff"): "met",
        ("RES-2", "jitter"): "met",
        ("RES-2", "bounded, with an overall deadline"): "missing",
        ("DB-3", "NOT NULL"): "met",
        ("DB-3", "foreign keys"): "met",
        ("DB-4", "indexes on foreign keys"): "missing",
        ("TEST-1", "API tests through the real application"): "met",
        ("TEST-1", "against real databases"): "met",
        ("API-1", "business routes under /v1"): "missing",
    },
)
