"""Debug task C: repeated runs must not grow process memory."""
import gc
import tracemalloc

from conftest import mock_config
from mock_api.testing import MockUpstreamServer
from support import ingest
from ticketsvc.api.context import get_runtime

RUNS = 200


def _heap(database) -> tracemalloc.Snapshot:
    """What the process holds outside stored data and the in-process mock upstream.

    Each run leaves an audit record (by design); those are deleted before measuring so
    that only memory a run leaves behind in the process itself is counted.
    """
    database.ingestion_logs.delete_many({})
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([
        tracemalloc.Filter(False, "*mongomock*"),
        tracemalloc.Filter(False, "*/copy.py"),  # the embedded engine's stored copies
        tracemalloc.Filter(False, "*/ticketsvc/embedded.py"),  # the engine's index tables: storage too
        tracemalloc.Filter(False, "*/mock_api/*"),
        # The mock upstream's HTTP server runs in this process: its request threads hold
        # whatever connection is open at the moment of the snapshot. Not ours.
        tracemalloc.Filter(False, "*/werkzeug/serving.py"),
        tracemalloc.Filter(False, "*/socketserver.py"),
        tracemalloc.Filter(False, "*/http/server.py"),
        # CPython's bounded URL-split cache (functools.lru_cache, 128 entries): the change
        # feed's URLs differ from run to run, so it turns over rather than grows.
        tracemalloc.Filter(False, "*/urllib/parse.py"),
        tracemalloc.Filter(False, tracemalloc.__file__),
    ])
    return snapshot


def _size(snapshot: tracemalloc.Snapshot) -> int:
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_two_hundred_runs_do_not_grow_memory(make_app, database):
    with MockUpstreamServer(mock_config(tickets=60)) as mock:
        runtime = get_runtime(make_app(external_api_url=mock.url, rate_limit_calls=100, rate_limit_window_s=1.0))
        # Warm up: connection pools, lazy imports, and CPython's bounded internal caches
        # (they fill over the first few hundred runs and then stay flat).
        for _ in range(RUNS):
            ingest(runtime, "tenant_d")
        tracemalloc.start(1)  # one frame keeps tracing cheap
        try:
            # Let whatever fills up under tracing fill up: the change feed's URLs differ
            # from run to run, so urllib's bounded URL cache takes a while to turn over.
            for _ in range(2 * RUNS):
                ingest(runtime, "tenant_d")
            before = _heap(database)
            for _ in range(RUNS):
                assert ingest(runtime, "tenant_d")["status"] == "completed"
            after = _heap(database)
        finally:
            tracemalloc.stop()
    growth = _size(after) - _size(before)
    grew = "; ".join(str(stat) for stat in after.compare_to(before, "lineno")[:5])  # where, if it fails
    # Keeping anything per run (a registry entry, a cached page, a run context) costs at
    # least a few hundred bytes a run, i.e. 50+ KB here; bounded caches have filled during
    # the warm-up, and what remains is well under the bound.
    assert growth < 24 * 1024, f"heap grew by {growth} bytes over {RUNS} runs; most at: {grew}"
    assert runtime.ingestion.active_jobs() == []
