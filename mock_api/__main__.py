"""``python -m mock_api``: serve the mock upstream with werkzeug's threaded server."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from werkzeug.serving import make_server

from .app import create_app
from .config import ConfigError, MockConfig, NotifyConfig

log = logging.getLogger("mock_api")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults, notify = MockConfig(), NotifyConfig()
    parser = argparse.ArgumentParser(prog="python -m mock_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--tickets", type=int, default=defaults.tickets)
    parser.add_argument("--tenants", type=_csv, default=defaults.tenants,
                        help="comma-separated tenant ids (default: %(default)s)")
    parser.add_argument("--now", default=None, help="ISO 8601 'now' the data is generated around (default: start-up)")
    parser.add_argument("--rate-limit-calls", type=int, default=defaults.rate_limit_calls)
    parser.add_argument("--rate-limit-window-s", type=float, default=defaults.rate_limit_window_s)
    parser.add_argument("--no-change-feed", action="store_true",
                        help="answer 404 on /external/ticket-changes (an upstream without the feed)")
    parser.add_argument("--notify-latency-ms", type=_pair, default=notify.latency_ms, help="min,max (default: 100,500)")
    parser.add_argument("--notify-fail-first-attempts", type=int, default=notify.fail_first_attempts)
    parser.add_argument("--notify-fail-share", type=float, default=notify.fail_share)
    parser.add_argument("--notify-outage-after-failures", type=int, default=notify.outage_after_failures,
                        help="0 disables the outage")
    parser.add_argument("--notify-outage-s", type=float, default=notify.outage_s)
    parser.add_argument("--quiet", action="store_true", help="no access log line per request")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> MockConfig:
    return MockConfig(
        seed=args.seed,
        tickets=args.tickets,
        tenants=tuple(args.tenants),
        now=args.now,
        rate_limit_calls=args.rate_limit_calls,
        rate_limit_window_s=args.rate_limit_window_s,
        change_feed=not args.no_change_feed,
        notify=NotifyConfig(
            fail_first_attempts=args.notify_fail_first_attempts,
            fail_share=args.notify_fail_share,
            latency_ms=args.notify_latency_ms,
            outage_after_failures=args.notify_outage_after_failures,
            outage_s=args.notify_outage_s,
        ),
    ).validate()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"mock_api: invalid configuration: {exc}", file=sys.stderr)
        return 2
    app = create_app(config)
    server = make_server(args.host, args.port, app, threaded=True)

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    data = app.extensions["mock"].describe_data()
    log.info(
        "mock upstream listening on http://%s:%s: %d tickets over %s (seed %d, now %s), "
        "limit %d calls per %gs, notify latency %g-%g ms, first %d attempts fail for %g of tickets, "
        "outage %gs after %d failures",
        args.host, server.port, data["tickets"], ",".join(data["tenants"]), config.seed, data["now"],
        config.rate_limit_calls, config.rate_limit_window_s, *config.notify.latency_ms,
        config.notify.fail_first_attempts, config.notify.fail_share, config.notify.outage_s,
        config.notify.outage_after_failures,
    )
    server.serve_forever()
    return 0


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _pair(value: str) -> tuple[float, float]:
    parts = value.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError("expected min,max")
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError("expected two numbers: min,max") from None


if __name__ == "__main__":
    sys.exit(main())
