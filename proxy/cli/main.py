"""`llm-gateway`: the one entry point (serve, demo, emulator, keys, teams, tables, usage, config-docs)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from proxy import __version__
from proxy.cli import config_docs as cli_config_docs
from proxy.cli import keys as cli_keys
from proxy.cli import usage as cli_usage
from proxy.settings import ConfigError, Settings


def serve(args: argparse.Namespace) -> int:
    from proxy.auth.admin_key import weak_admin_key
    from proxy.observability.logs import configure
    from proxy.pipeline.drain import begin_drain
    from proxy.server.limits import HttpLimits
    from proxy.server.run import build_config, run

    settings = Settings.from_env()
    weak = weak_admin_key(settings.admin_key)
    if weak is not None:  # said before binding a port (the lifespan refuses it too, for other launchers)
        raise ConfigError(weak)
    # One line per record, control characters escaped (proxy/observability/logs.py); uvicorn's loggers
    # propagate to it because its own logging config is not applied (log_config=None).
    configure(settings.log_level)
    config = build_config(
        "proxy.app:create_app_from_env",
        factory=True,
        limits=HttpLimits.from_settings(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        log_level=settings.log_level,
        # The access log is one synchronous write per request; x-request-id and usage records cover it.
        access_log=args.access_log,
        timeout_graceful_shutdown=30,
        # On SIGTERM calls in flight get until 25 s, then end in the client's envelope, booked.
        on_shutdown=begin_drain,
        log_config=None,
    )
    run(config)
    return 0


def demo(args: argparse.Namespace) -> int:
    from proxy.cli.demo import run_demo

    return run_demo(host=args.host, port=args.port, emulator_port=args.emulator_port,
                    openai_port=args.openai_emulator_port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-gateway", description=__doc__)
    parser.add_argument("--version", action="version", version=f"llm-gateway {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the gateway (configuration from the environment, see .env.example)")
    p.add_argument("--host", default=None, help="default: LLM_GATEWAY_HOST")
    p.add_argument("--port", type=int, default=None, help="default: LLM_GATEWAY_PORT")
    p.add_argument("--workers", type=int, default=None, help="default: WEB_CONCURRENCY")
    p.add_argument("--access-log", action="store_true", help="log every request line (off by default)")
    p.set_defaults(func=serve)

    p = sub.add_parser("demo", help="offline demo: Bedrock emulator + gateway on embedded defaults, prints a key")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--emulator-port", type=int, default=8089)
    p.add_argument("--openai-emulator-port", type=int, default=9200)
    p.set_defaults(func=demo)

    from bedrock_emulator import cli as emulator_cli

    emulator_cli.register(sub)
    cli_keys.register(sub)
    cli_usage.register(sub)
    cli_config_docs.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"llm-gateway: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
