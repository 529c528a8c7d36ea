import pytest

from ticketsvc.config import ConfigError, Settings


def test_defaults_match_the_contract():
    s = Settings.from_env({})
    assert s.mongo_url == "mongomock://" and s.engine == "embedded"
    assert (s.rate_limit_calls, s.rate_limit_window_s) == (60, 60.0)
    assert (s.lock_ttl_s, s.lock_heartbeat_s) == (60.0, 15.0)
    assert (s.cb_window, s.cb_failure_threshold, s.cb_open_s) == (10, 5, 30.0)
    assert (s.notify_max_attempts, s.notify_backoff_base_s, s.notify_backoff_max_s) == (10, 1.0, 60.0)
    assert s.external_page_size == 100 and s.ingest_workers == 4 and s.sync_interval_s == 900
    assert s.auth_mode == "keys"
    assert (s.http_total_timeout_s, s.upstream_max_response_bytes) == (30.0, 10 * 1024 * 1024)


@pytest.mark.parametrize("var,value", [
    ("RATE_LIMIT_CALLS", "sixty"),
    ("RATE_LIMIT_CALLS", "0"),
    ("RATE_LIMIT_WINDOW_S", "-1"),
    ("EXTERNAL_PAGE_SIZE", "101"),
    ("MONGO_URL", "postgres://x"),
    ("EXTERNAL_API_URL", "not a url"),
    ("AUTH_MODE", "maybe"),
    ("NOTIFY_TIMEOUT_S", "nan"),
    ("LOCK_HEARTBEAT_S", "90"),
    ("HTTP_TOTAL_TIMEOUT_S", "60"),  # a stuck call would outlive the 60 s lease
    ("HTTP_TOTAL_TIMEOUT_S", "0"),
    ("UPSTREAM_MAX_RESPONSE_BYTES", "100"),
])
def test_invalid_value_stops_startup_naming_the_variable(var, value):
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env({var: value})
    assert var in str(excinfo.value)


def test_describe_masks_secrets():
    s = Settings.from_env({"ADMIN_API_KEY": "s3cret-value", "MONGO_URL": "mongodb://user:pw@db:27017"})
    described = s.describe()
    assert "s3cret-value" not in str(described) and "pw@" not in str(described)
