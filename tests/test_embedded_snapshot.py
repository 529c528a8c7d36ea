"""EMBEDDED_DATA_FILE: the embedded engine's data survives a restart (a demo convenience),
written atomically, and a file of another format or version is refused, never misread."""
from __future__ import annotations

from datetime import datetime, timezone

import bson
import pytest
import requests

from conftest import TEST_MONGO_URL, base_settings
from support import follow_job_over_http, ingest
from ticketsvc import create_app
from ticketsvc.api.context import get_runtime
from ticketsvc.config import ConfigError
from ticketsvc.storage import Database
from ticketsvc.storage.embedded import SnapshotError
from ticketsvc.storage.embedded.snapshot import FORMAT, VERSION

pytestmark = pytest.mark.skipif(bool(TEST_MONGO_URL), reason="the embedded engine's snapshot only")


@pytest.fixture
def data_file(tmp_path):
    return tmp_path / "data" / "embedded.bson"


def open_database(data_file) -> Database:
    db = Database(base_settings(embedded_data_file=str(data_file)))
    db.prepare()
    return db


def test_a_snapshot_round_trips_documents_datetimes_and_unique_lookups(data_file):
    when = datetime(2026, 11, 29, 6, 51, 30, 123000, tzinfo=timezone.utc)
    first = open_database(data_file)
    first.tickets.insert_many([{"tenant_id": "a", "external_id": str(i), "created_at": when, "tags": ["x", {"y": i}]}
                               for i in range(50)])
    first.locks.insert_one({"_id": "ingest:a", "owner": "job-1"})
    first.close()  # closing writes the snapshot

    second = open_database(data_file)
    try:
        assert second.tickets.count_documents({}) == 50
        ticket = second.tickets.find_one({"tenant_id": "a", "external_id": "7"})
        assert ticket["created_at"] == when and ticket["tags"] == ["x", {"y": 7}]
        assert second.locks.find_one({"_id": "ingest:a"})["owner"] == "job-1"
        from pymongo.errors import DuplicateKeyError

        with pytest.raises(DuplicateKeyError):  # the unique index holds over loaded documents
            second.tickets.insert_one({"tenant_id": "a", "external_id": "7"})
    finally:
        second.close()


def test_the_file_is_replaced_atomically_leaving_no_partial_file(data_file):
    db = open_database(data_file)
    db.tickets.insert_one({"tenant_id": "a", "external_id": "1"})
    db.save_snapshot()
    first = data_file.read_bytes()
    db.tickets.insert_one({"tenant_id": "a", "external_id": "2"})
    db.close()
    assert data_file.read_bytes() != first
    assert [p.name for p in data_file.parent.iterdir()] == [data_file.name]  # no temporary left behind


def write_header(data_file, **header) -> None:
    data_file.parent.mkdir(parents=True, exist_ok=True)
    data_file.write_bytes(bson.encode({"format": FORMAT, "version": VERSION, "counts": {}, **header}))


def test_a_snapshot_of_another_version_is_refused_clearly_and_left_untouched(data_file):
    write_header(data_file, version=VERSION - 1)
    before = data_file.read_bytes()
    with pytest.raises(SnapshotError) as refused:
        create_app(base_settings(embedded_data_file=str(data_file)))
    message = str(refused.value)
    assert str(data_file) in message and f"version {VERSION - 1}" in message and "Move it aside" in message
    assert isinstance(refused.value, ConfigError)  # the service refuses to start, in one line
    assert data_file.read_bytes() == before


@pytest.mark.parametrize("content", [b"not bson at all", b""], ids=["garbage", "empty"])
def test_a_file_that_is_not_a_snapshot_is_refused(data_file, content):
    data_file.parent.mkdir(parents=True)
    data_file.write_bytes(content)
    with pytest.raises(SnapshotError, match="EMBEDDED_DATA_FILE="):
        open_database(data_file)


def test_a_truncated_snapshot_is_refused_as_incomplete(data_file):
    db = open_database(data_file)
    db.tickets.insert_many([{"tenant_id": "a", "external_id": str(i)} for i in range(10)])
    db.close()
    data = data_file.read_bytes()
    data_file.write_bytes(data[: len(data) - 40])
    with pytest.raises(SnapshotError):
        open_database(data_file)


def test_a_data_file_with_a_real_mongodb_is_a_configuration_error():
    with pytest.raises(ConfigError, match="EMBEDDED_DATA_FILE"):
        base_settings(mongo_url="mongodb://127.0.0.1:27017", embedded_data_file="x.bson")


def test_tests_and_the_default_keep_nothing_on_disk(settings):
    assert settings.embedded_data_file is None and Database(settings).snapshot is None


def test_the_snapshot_is_also_written_periodically(data_file, mock_upstream):
    app = create_app(base_settings(external_api_url=mock_upstream.url, embedded_data_file=str(data_file),
                                   embedded_snapshot_interval_s=120))
    runtime = get_runtime(app)
    try:
        assert ("embedded-snapshot", runtime.db.save_snapshot, 120) in runtime.periodic_jobs()
    finally:
        runtime.stop()


def test_a_restarted_service_keeps_its_tickets_jobs_and_alerts(data_file, mock_upstream):
    settings = base_settings(external_api_url=mock_upstream.url, embedded_data_file=str(data_file))
    first = get_runtime(create_app(settings))
    job = ingest(first, "tenant_a")
    assert job["status"] == "completed" and job["counts"]["new"] > 0
    alerts = first.outbox.counts()
    first.stop()  # as gunicorn's worker_exit does

    app = create_app(settings)
    try:
        client = app.test_client()
        assert client.get("/tickets?tenant_id=tenant_a&page_size=1").get_json()["total"] == job["counts"]["new"]
        assert client.get(f"/ingest/progress/{job['job_id']}").get_json()["status"] == "completed"
        assert get_runtime(app).outbox.counts() == alerts
        rerun = ingest(get_runtime(app), "tenant_a")  # nothing new: the alerts are not queued again
        assert rerun["counts"]["new"] == 0 and rerun["counts"]["notifications_queued"] == 0
    finally:
        get_runtime(app).stop()


@pytest.mark.e2e
@pytest.mark.slow
def test_gunicorn_restarted_on_the_same_data_file_serves_the_same_tickets(gunicorn_service, data_file):
    service = gunicorn_service(EMBEDDED_DATA_FILE=str(data_file))
    job_id = requests.post(service.url + "/ingest/run?tenant_id=tenant_d", timeout=5).json()["job_id"]
    follow_job_over_http(service.url, job_id)
    total = requests.get(service.url + "/tickets?tenant_id=tenant_d", timeout=5).json()["total"]
    assert total > 0 and service.stop() == 0
    assert "embedded snapshot written" in service.read_output()

    restarted = gunicorn_service(EMBEDDED_DATA_FILE=str(data_file))
    assert requests.get(restarted.url + "/tickets?tenant_id=tenant_d", timeout=5).json()["total"] == total
    assert "embedded snapshot loaded" in restarted.read_output()
