"""Logs an operator can ship: LOG_FORMAT=text|json, one format for gunicorn and the app,
structured fields, JSON (never Python reprs) for dicts, and the request id carried into
work handed to other threads."""
from __future__ import annotations

import io
import json
import logging
import re
import threading

import pytest
import requests

from support import follow_job_over_http
from ticketsvc.config import ConfigError, Settings
from ticketsvc.logcontext import capture_log_context, log_context
from ticketsvc.logging_setup import ServiceLogHandler, message_fields

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \d+ [\w.]+ \[[^\]]+\] .+")


@pytest.fixture
def capture():
    """A logger writing through the service handler into a buffer: capture(fmt) -> (logger, read)."""
    loggers = []

    def build(log_format: str):
        stream = io.StringIO()
        logger = logging.getLogger(f"test.logging.{log_format}.{len(loggers)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(ServiceLogHandler(log_format, stream))
        loggers.append(logger)
        return logger, lambda: stream.getvalue().splitlines()

    yield build
    for logger in loggers:
        logger.handlers.clear()


def test_counts_are_written_as_json_not_python_reprs(capture):
    logger, lines = capture("text")
    logger.info("ingestion finished job_id=%s counts=%s ids=%s", "j1", {"fetched": 3, "new": 1}, ["a", "b"])
    assert lines()[0].endswith('ingestion finished job_id=j1 counts={"fetched": 3, "new": 1} ids=["a", "b"]')
    assert TEXT_LINE.match(lines()[0])


def test_json_lines_carry_the_message_fields_typed(capture):
    logger, lines = capture("json")
    logger.info("ingestion finished job_id=%s tenant=%s status=%s pages=%s counts=%s error=%s",
                "j1", "tenant_a", "completed", 40, {"fetched": 3964, "new": 3964}, None)
    entry = json.loads(lines()[0])
    assert entry["level"] == "INFO" and entry["message"].startswith("ingestion finished")
    assert entry["job_id"] == "j1" and entry["tenant"] == "tenant_a" and entry["status"] == "completed"
    assert entry["pages"] == 40 and entry["counts"] == {"fetched": 3964, "new": 3964} and entry["error"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])


def test_json_lines_keep_exceptions_in_one_field(capture):
    logger, lines = capture("json")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("job %s crashed", "j1")
    (line,) = lines()
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_the_log_context_follows_work_into_another_thread(capture):
    logger, lines = capture("json")
    with log_context(request_id="req-1"):
        captured = capture_log_context()

    def job() -> None:  # what a runner does in its pool thread
        with log_context(**captured, job_id="j1", tenant="tenant_a"):
            logger.info("ingestion finished status=completed")

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    entry = json.loads(lines()[0])
    assert (entry["request_id"], entry["job_id"], entry["tenant"]) == ("req-1", "j1", "tenant_a")


def test_a_request_binds_its_id_for_services_to_capture(make_app, caplog):
    from flask import g

    app = make_app()
    seen = {}

    @app.get("/_probe_log_context")
    def probe():
        seen.update(captured=capture_log_context(), request_id=g.request_id)
        return {}

    app.test_client().get("/_probe_log_context", headers={"X-Request-ID": "req-probe-1"})
    assert seen == {"captured": {"request_id": "req-probe-1"}, "request_id": "req-probe-1"}
    assert capture_log_context() == {}  # unbound once the request ended


def test_text_lines_append_context_fields_the_message_does_not_name(capture):
    logger, lines = capture("text")
    with log_context(request_id="req-1", job_id="j1", tenant="tenant_a"):
        logger.info("page stored job_id=j1")
    assert "[req-1] page stored job_id=j1 tenant=tenant_a" in lines()[0]
    assert lines()[0].count("job_id=") == 1


def test_message_fields_reads_nested_json_and_skips_what_is_not_a_field():
    assert message_fields('x counts={"a": {"b": [1, 2]}} ok=1.5 broken={nope path=/x') == {
        "counts": {"a": {"b": [1, 2]}}, "ok": 1.5, "path": "/x"}


def test_an_unknown_log_format_is_a_configuration_error():
    with pytest.raises(ConfigError, match="LOG_FORMAT='xml' must be one of text, json"):
        Settings.from_env({"LOG_FORMAT": "xml"})


@pytest.mark.e2e
@pytest.mark.slow
def test_gunicorn_and_the_app_write_one_json_format(gunicorn_service):
    service = gunicorn_service(LOG_FORMAT="json", EXTERNAL_PAGE_SIZE="50")
    started = requests.post(service.url + "/ingest/run?tenant_id=tenant_b", headers={"X-Request-ID": "req-e2e-1"},
                            timeout=5)
    job_id = started.json()["job_id"]
    follow_job_over_http(service.url, job_id)
    assert service.stop() == 0
    entries = [json.loads(line) for line in service.read_output().splitlines()]  # every line is JSON
    loggers = {entry["logger"] for entry in entries}
    assert {"gunicorn.error", "ticketsvc.access"} <= loggers
    access = [e for e in entries if e["logger"] == "ticketsvc.access" and e["request_id"] == "req-e2e-1"]
    assert access and access[0]["method"] == "POST" and access[0]["status"] == 202
    finished = [e for e in entries if e["message"].startswith("ingestion finished")]
    assert finished[0]["job_id"] == job_id and finished[0]["tenant"] == "tenant_b"
    assert isinstance(finished[0]["counts"], dict) and finished[0]["counts"]["new"] > 0


@pytest.mark.e2e
@pytest.mark.slow
def test_gunicorn_and_the_app_write_one_text_format(gunicorn_service):
    service = gunicorn_service()
    requests.get(service.url + "/health", timeout=5)
    assert service.stop() == 0
    lines = service.read_output().splitlines()
    assert all(TEXT_LINE.match(line) for line in lines), [line for line in lines if not TEXT_LINE.match(line)]
    assert any(" gunicorn.error [-] Booting worker" in line for line in lines)
    assert any(" ticketsvc.access [" in line and "GET /health 200" in line for line in lines)
    assert not any(" gunicorn.access " in line for line in lines)  # one access line per request, the app's


def test_an_ingestion_runs_lines_carry_the_request_id_that_started_it(make_app, caplog):
    # The run goes on in a pool thread, which starts with an empty log context: the id of
    # the request that started it must still be on the run's lines (and the job's own ids).
    from support import wait_for_job
    from ticketsvc.api.context import get_runtime
    from ticketsvc.logging_setup import ContextFilter

    app = make_app()
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.INFO, logger="ticketsvc.ingestion"):
        response = app.test_client().post("/ingest/run?tenant_id=tenant_a", headers={"X-Request-ID": "req-trace-1"})
        assert response.status_code == 202
        job_id = response.get_json()["job_id"]
        wait_for_job(get_runtime(app), job_id)
    finished = [r for r in caplog.records if r.getMessage().startswith("ingestion finished")]
    assert finished and finished[0].threadName != "MainThread"
    assert finished[0].request_id == "req-trace-1"
    assert finished[0].log_context["job_id"] == job_id and finished[0].log_context["tenant"] == "tenant_a"
