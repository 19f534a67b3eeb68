"""``python -m refworkload``: serve the reference workload until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from refworkload.app import start_server
from refworkload.service import DownstreamModel

log = logging.getLogger("refworkload")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m refworkload",
        description="Serve the reference workload (gateway -> queue -> batcher -> workers).",
    )
    parser.add_argument(
        "--params-file",
        type=Path,
        required=True,
        help="ConfigMap mount directory (one file per key) or a JSON/YAML file; reloaded live",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="listen port (default 8080)")
    parser.add_argument(
        "--poll-s", type=float, default=0.5, help="parameter source poll interval, seconds"
    )
    parser.add_argument(
        "--downstream-overhead-ms", type=float, default=20.0, help="fixed cost of one batch, ms"
    )
    parser.add_argument(
        "--downstream-per-item-ms", type=float, default=5.0, help="cost of each item, ms"
    )
    parser.add_argument(
        "--downstream-jitter-ms",
        type=float,
        default=5.0,
        help="mean of the exponential jitter added to each batch, ms",
    )
    parser.add_argument(
        "--downstream-failure-rate",
        type=float,
        default=0.001,
        help="probability that the worker fails an item",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the jitter and failures")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return parser


async def _serve(args: argparse.Namespace, model: DownstreamModel) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await start_server(
        host=args.host,
        port=args.port,
        params_path=args.params_file,
        model=model,
        poll_s=args.poll_s,
    )
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        await server.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.params_file.exists():
        print(f"refworkload: parameter source {args.params_file} does not exist", file=sys.stderr)
        return 2
    if not 0.05 <= args.poll_s <= 60:
        print("refworkload: --poll-s must be within [0.05, 60]", file=sys.stderr)
        return 2
    try:
        model = DownstreamModel(
            overhead_ms=args.downstream_overhead_ms,
            per_item_ms=args.downstream_per_item_ms,
            jitter_ms=args.downstream_jitter_ms,
            failure_rate=args.downstream_failure_rate,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"refworkload: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args, model))
    except OSError as exc:  # e.g. the port is taken
        print(f"refworkload: cannot serve: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
