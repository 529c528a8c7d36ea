"""Every paged listing sorts on a key that ends in a unique field, so offset pages are a
stable partition (equal sort values on a page boundary would otherwise repeat or skip a
record). Recorded from the reads the endpoints really make."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from support import EngineDouble, stored_ticket
from ticketsvc.notifications.outbox import Alert
from ticketsvc.api.context import get_runtime

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
# The fields that identify one record of each collection (within a tenant where scoped).
UNIQUE = {"tickets": "external_id", "ticket_history": "_id", "notifications": "_id", "api_keys": "key_id",
          "ingestion_logs": "job_id"}
# Listings still sorted without a tie-break, and the fix (none left).
KNOWN_UNSTABLE: dict[str, str] = {}
LISTINGS = [
    "/tickets?tenant_id=tenant_a&page=2&page_size=1",
    "/tickets/urgent?tenant_id=tenant_a&page=2&page_size=1",
    "/tickets/tkt-1/history?tenant_id=tenant_a&page=2&page_size=1",
    "/notifications?tenant_id=tenant_a&page=2&page_size=1",
    "/notifications?tenant_id=tenant_a&status=pending&page=2&page_size=1",
    "/ingest/logs?tenant_id=tenant_a",
    "/admin/api-keys?page=2&page_size=1",
]


class SortRecorder(EngineDouble):
    def __init__(self, engine):
        super().__init__(engine)
        self.sorts: list[tuple[str, list]] = []

    def wrap(self, collection, name):
        recorder = self

        class Collection:
            def __getattr__(self, attr):
                target = getattr(collection, attr)
                if attr != "find":
                    return target

                def find(*args, **kwargs):
                    return Cursor(target(*args, **kwargs))
                return find

        class Cursor:
            def __init__(self, cursor):
                self._cursor = cursor

            def sort(self, key, direction=None):
                spec = [(key, direction or 1)] if isinstance(key, str) else list(key)
                recorder.sorts.append((name, spec))
                self._cursor = self._cursor.sort(key, direction) if direction else self._cursor.sort(key)
                return self

            def __getattr__(self, attr):
                target = getattr(self._cursor, attr)
                if attr in ("skip", "limit"):
                    def chain(*args):
                        self._cursor = target(*args)
                        return self
                    return chain
                return target

            def __iter__(self):
                return iter(self._cursor)

        return Collection()


@pytest.fixture
def recorder(database, make_app):
    recorder = SortRecorder.install(database)
    app = make_app()
    runtime = get_runtime(app)
    database.tickets.insert_many([stored_ticket("tenant_a", f"tkt-{i}", T0, urgency="high") for i in (1, 2)])
    database.ticket_history.insert_many([{"_id": f"tenant_a:tkt-1:{i}", "tenant_id": "tenant_a", "ticket_id": "tkt-1",
                                          "action": "updated", "changes": {}, "job_id": "j", "recorded_at": T0}
                                         for i in (1, 2)])
    database.ingestion_logs.insert_many([{"job_id": f"job-{i}", "tenant_id": "tenant_a", "status": "completed",
                                          "started_at": T0} for i in (1, 2)])
    runtime.outbox.enqueue([Alert("tenant_a", f"t{i}", "high", "r", f"tenant_a:t{i}:high:v1") for i in (1, 2)], T0)
    for name in ("one", "two"):
        runtime.api_keys.create(name=name, tenant_id="tenant_a", admin=False, actor="test")
    recorder.client = app.test_client()
    return recorder


@pytest.mark.parametrize("path", LISTINGS)
def test_each_page_is_sorted_down_to_a_unique_field(recorder, path):
    recorder.sorts.clear()
    response = recorder.client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert recorder.sorts, "no sorted read?"
    unstable = [(name, spec) for name, spec in recorder.sorts if spec[-1][0] != UNIQUE[name]]
    if path in KNOWN_UNSTABLE:
        assert unstable, f"fixed: remove {path} from KNOWN_UNSTABLE"
    else:
        assert unstable == []
