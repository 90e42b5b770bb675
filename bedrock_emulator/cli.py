"""Command line: ``python -m bedrock_emulator`` and the ``llm-gateway emulator`` subcommand."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8089


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--verify-sigv4", metavar="ACCESS_KEY:SECRET", action="append", default=[],
        help="verify SigV4 signatures for this key pair (repeatable); default: only check they are present",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")


def register(subparsers: Any) -> None:
    """Add ``emulator`` to an argparse subparsers object (used by ``llm-gateway``)."""
    parser = subparsers.add_parser("emulator", help="run the bundled Bedrock Runtime emulator")
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from bedrock_emulator.app import create_app

    secrets = dict(pair.split(":", 1) for pair in args.verify_sigv4) or None
    print(f"Bedrock emulator on http://{args.host}:{args.port} "
          f"(set AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://{args.host}:{args.port})", flush=True)
    uvicorn.run(
        create_app(verify_sigv4=secrets), host=args.host, port=args.port,
        log_level=args.log_level, access_log=False, lifespan="off",
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bedrock_emulator", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
