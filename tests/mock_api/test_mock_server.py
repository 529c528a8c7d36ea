"""MockUpstreamServer over real HTTP, and the command line."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mock_api import MockConfig, NotifyConfig
from mock_api.__main__ import build_config, parse_args
from mock_api.testing import MockUpstreamServer


def test_server_serves_the_api_over_http_and_stops_quickly():
    started = time.perf_counter()
    with MockUpstreamServer(MockConfig(tickets=300, notify=NotifyConfig(latency_ms=(0, 0)))) as server:
        assert time.perf_counter() - started < 0.5
        assert server.url.startswith("http://127.0.0.1:")
        with requests.Session() as session:
            assert session.get(server.url + "/health", timeout=5).json() == {"status": "ok"}
            page = session.get(server.url + "/external/support-tickets",
                               params={"tenant_id": "tenant_a", "page_size": 5}, timeout=5).json()
            assert [t["id"] for t in page["tickets"]] == [f"tkt-{n:06d}" for n in range(1, 6)]
            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(
                    lambda _: requests.get(server.url + "/external/deleted-tickets", timeout=5).status_code, range(16)))
            assert codes == [200] * 16
        report = server.admin("GET", "/admin/report")
        assert report["calls"] == 17
        stopping = time.perf_counter()
    assert time.perf_counter() - stopping < 0.5
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/health", timeout=1)


def test_admin_helper_accepts_short_paths_and_raises_on_errors():
    server = MockUpstreamServer(MockConfig(tickets=50))
    try:
        assert server.admin("POST", "reset", json={"seed": 7, "tickets": 80})["tickets"] == 80
        with pytest.raises(requests.HTTPError):
            server.admin("POST", "/admin/config", json={"rate_limit_calls": 0})
        assert server.app.extensions["mock"] is server.upstream
    finally:
        server.stop()
        server.stop()  # idempotent


def test_server_runs_on_an_injected_clock(clock):
    with MockUpstreamServer(MockConfig(tickets=50, rate_limit_calls=1, rate_limit_window_s=30), clock=clock) as server:
        assert requests.get(server.url + "/external/support-tickets", timeout=5).status_code == 200
        clock.advance(10)
        response = requests.get(server.url + "/external/support-tickets", timeout=5)
        assert (response.status_code, response.headers["Retry-After"]) == (429, "20")


def test_command_line_builds_the_config():
    args = parse_args(["--port", "9100", "--seed", "3", "--tickets", "500", "--tenants", "acme,globex",
                       "--rate-limit-calls", "10", "--rate-limit-window-s", "0.5", "--notify-latency-ms", "0,50",
                       "--notify-fail-share", "0.25", "--notify-outage-after-failures", "0"])
    config = build_config(args)
    assert (args.host, args.port) == ("127.0.0.1", 9100)
    assert (config.seed, config.tickets, config.tenants) == (3, 500, ("acme", "globex"))
    assert (config.rate_limit_calls, config.rate_limit_window_s) == (10, 0.5)
    assert config.notify == NotifyConfig(fail_share=0.25, latency_ms=(0.0, 50.0), outage_after_failures=0)


def test_command_line_defaults_match_the_contract():
    config = build_config(parse_args([]))
    assert config == MockConfig()
    assert (config.tickets, config.rate_limit_calls, config.rate_limit_window_s) == (10_000, 60, 60.0)
