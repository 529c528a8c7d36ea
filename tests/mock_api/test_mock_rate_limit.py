"""One rolling window over every /external/* call, counted on arrival (429s included)."""
import pytest

from mock_api.ratelimit import RollingWindowLimiter, format_retry_after

LIST = "/external/support-tickets"


@pytest.fixture
def app(make_app):
    return make_app(rate_limit_calls=3, rate_limit_window_s=10)


def call(client):
    return client.get(LIST, query_string={"page_size": 1})


def test_calls_up_to_the_limit_pass_and_the_next_gets_429_with_retry_after(client):
    assert [call(client).status_code for _ in range(3)] == [200, 200, 200]
    response = call(client)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "10"
    assert "error" in response.get_json()


def test_retry_after_is_the_rounded_up_time_until_the_oldest_call_leaves(client, clock):
    call(client)
    clock.advance(0.5)
    call(client)
    call(client)
    clock.advance(1.7)  # oldest leaves 10 s after it came: in 7.8 s
    assert call(client).headers["Retry-After"] == "8"


def test_the_window_slides_with_the_clock(client, clock):
    for _ in range(3):
        call(client)
    clock.advance(9.999)
    assert call(client).status_code == 429
    clock.advance(0.001)  # exactly 10 s after the first three: they have left
    assert call(client).status_code == 200


def test_refused_calls_count_against_the_window(client, clock):
    for _ in range(3):
        call(client)
    clock.advance(5)
    assert call(client).status_code == 429  # counted at t=5
    clock.advance(5)  # the first three leave; the 429 at t=5 stays
    assert [call(client).status_code for _ in range(3)] == [200, 200, 429]
    assert call(client).headers["Retry-After"] == "5"


def test_every_external_endpoint_shares_the_limit(client):
    assert client.get(LIST).status_code == 200
    assert client.get(LIST + "/tkt-000001").status_code == 200
    assert client.get("/external/deleted-tickets").status_code == 200
    assert client.get("/external/deleted-tickets").status_code == 429


def test_health_admin_and_notify_do_not_count(client, mock):
    for _ in range(5):
        client.get("/health")
        client.get("/admin/report")
    assert call(client).status_code == 200
    assert mock.report()["calls"] == 1


def test_report_counts_calls_429s_and_the_busiest_window(client, clock, mock):
    for _ in range(5):
        call(client)  # 3 pass, 2 refused: 5 arrivals in one window
    clock.advance(20)
    call(client)
    report = mock.report()
    assert report["calls"] == 6
    assert report["calls_by_endpoint"] == {LIST: 6}
    assert report["rate_limited"] == 2
    assert report["max_calls_in_window"] == 5
    assert (report["limit"], report["window_s"]) == (3, 10.0)


def test_busiest_window_spans_calls_across_window_boundaries(make_app, clock):
    client = make_app(rate_limit_calls=100, rate_limit_window_s=10).test_client()
    for burst in (4, 4, 2):
        for _ in range(burst):
            call(client)
        clock.advance(6)
    report = client.get("/admin/report").get_json()
    assert report["max_calls_in_window"] == 8


def test_a_fractional_window_answers_a_fractional_retry_after(make_app, clock):
    client = make_app(rate_limit_calls=2, rate_limit_window_s=0.5).test_client()
    call(client)
    call(client)
    clock.advance(0.15)
    response = call(client)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "0.35"
    clock.advance(0.35)
    assert call(client).status_code == 200  # the first two left; the 429 remains


def test_limit_and_window_change_at_runtime(client, admin, clock):
    config = admin("POST", "config", {"rate_limit_calls": 1, "rate_limit_window_s": 0.25})
    assert (config["rate_limit_calls"], config["rate_limit_window_s"]) == (1, 0.25)
    assert call(client).status_code == 200
    clock.advance(0.1)
    assert call(client).headers["Retry-After"] == "0.15"
    clock.advance(0.15)
    assert call(client).status_code == 429  # the refused call at 0.1 still counts
    clock.advance(0.25)
    assert call(client).status_code == 200


@pytest.mark.parametrize("seconds, whole, header", [
    (7.8, True, "8"), (10.0, True, "10"), (0.2, True, "1"), (3.0000000001, True, "3"),
    (0.35, False, "0.35"), (0.3501, False, "0.351"), (0.15000009, False, "0.15"), (0.0001, False, "0.001"), (1.5, False, "1.5"),
])
def test_retry_after_formatting(seconds, whole, header):
    assert format_retry_after(seconds, whole) == header


def test_limiter_counts_arrivals_in_the_half_open_window():
    limiter = RollingWindowLimiter(limit=2, window_s=1.0)
    assert limiter.arrive(100.0) is None
    assert limiter.arrive(100.5) is None
    assert limiter.arrive(100.9) == pytest.approx(0.1)
    assert limiter.in_window(101.0) == 2  # 100.0 left at 101.0 exactly
