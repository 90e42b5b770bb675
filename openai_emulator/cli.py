"""Command line: ``python -m openai_emulator``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--api-key", metavar="KEY", action="append", default=[],
        help="accept this key (repeatable): Bearer on /v1, api-key or Bearer on Azure routes; default: no auth",
    )
    parser.add_argument("--azure", action="store_true", help="serve only Azure's /openai/* routes (404 on /v1/*)")
    parser.add_argument(
        "--azure-deployment", metavar="NAME=MODEL", action="append", default=[],
        help="the model an Azure deployment serves (repeatable); default: the deployment name itself",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from openai_emulator.app import create_app

    deployments = dict(pair.split("=", 1) for pair in args.azure_deployment)
    app = create_app(args.api_key, azure_only=args.azure, azure_deployments=deployments)
    print(f"OpenAI emulator on http://{args.host}:{args.port} (base_url http://{args.host}:{args.port}/v1)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False, lifespan="off")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openai_emulator", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if any("=" not in pair for pair in args.azure_deployment):
        parser.error("--azure-deployment takes NAME=MODEL")
    return run(args)
