"""The deploy is safe by default: docker-compose publishes only nginx (rendered from the
template the proxy tests run), the mock runs in its realistic mode unpublished, and
gunicorn recycles its workers with jitter where that loses nothing."""
from __future__ import annotations

import runpy

import pytest
import yaml

from conftest import ROOT


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_only_nginx_is_published_beyond_loopback(compose):
    published = {name: service.get("ports", []) for name, service in compose.items()}
    assert published["app"] == [] and published["mock-external-api"] == []
    for name, ports in published.items():
        if name != "nginx":
            assert all(str(port).startswith("127.0.0.1:") for port in ports), (name, ports)
    assert published["nginx"] and not str(published["nginx"][0]).startswith("127.0.0.1:")


def test_nginx_renders_the_tested_template_in_front_of_the_app(compose):
    nginx = compose["nginx"]
    assert "./deploy/nginx/ticketsvc.conf.template:/etc/nginx/templates/default.conf.template:ro" in nginx["volumes"]
    assert nginx["environment"]["TICKETSVC_UPSTREAM"] == "app:8000"
    assert str(nginx["ports"][0]).endswith(":" + nginx["environment"]["NGINX_PORT"])
    template = (ROOT / "deploy" / "nginx" / "ticketsvc.conf.template").read_text()
    for directive in ("client_header_timeout", "client_body_timeout", "client_max_body_size",
                      "proxy_request_buffering on", "proxy_buffering on"):
        assert directive in template


def test_the_mock_runs_in_its_realistic_mode(compose):
    command = compose["mock-external-api"]["command"]
    assert command[command.index("--notify-fail-share") + 1] == "0.1"
    assert command[command.index("--notify-fail-first-attempts") + 1] == "1"


def gunicorn_config(monkeypatch, **env: str) -> dict:
    for name in ("GUNICORN_MAX_REQUESTS", "GUNICORN_MAX_REQUESTS_JITTER", "MONGO_URL", "EMBEDDED_DATA_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_recycles_workers_with_jitter_on_mongodb(monkeypatch, compose):
    config = gunicorn_config(monkeypatch, MONGO_URL="mongodb://mongo:27017")
    assert config["max_requests"] == 10000 and config["max_requests_jitter"] == 1000
    assert compose["app"]["environment"]["GUNICORN_MAX_REQUESTS"] == "10000"


def test_gunicorn_never_recycles_the_embedded_engines_only_worker(monkeypatch):
    config = gunicorn_config(monkeypatch)
    assert config["workers"] == 1 and config["max_requests"] == 0


def test_gunicorn_sends_its_own_lines_through_the_service_log_handler(monkeypatch):
    config = gunicorn_config(monkeypatch, LOG_FORMAT="json")
    handler = config["logconfig_dict"]["handlers"]["service"]
    assert handler["log_format"] == "json"
    assert config["logconfig_dict"]["loggers"]["gunicorn.error"]["handlers"] == []
