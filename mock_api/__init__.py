"""A standalone Flask app that plays the external upstream ticket API (and its unstable
``/notify``) for development, tests, benchmarks and demos."""
from .app import create_app
from .clock import FakeClock, SystemClock
from .config import ConfigError, MockConfig, NotifyConfig

__all__ = ["ConfigError", "FakeClock", "MockConfig", "NotifyConfig", "SystemClock", "create_app"]
