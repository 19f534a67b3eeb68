"""``python -m upir_e2e.emulator``: serve the Kubernetes API emulator until interrupted.

Prints the URL on the first line of stdout (and the kubeconfig path on the
second), so a caller can read both and then drive the emulator with kubectl.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from .server import EmulatorServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m upir_e2e.emulator", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    parser.add_argument("--namespace", default="default", help="the kubeconfig context's namespace")
    parser.add_argument(
        "--auth", action="store_true", help="require a random bearer token (implies --tls)"
    )
    parser.add_argument("--token", help="require this bearer token (implies --auth)")
    parser.add_argument(
        "--tls", action="store_true", help="serve HTTPS (the kubeconfig carries the CA)"
    )
    parser.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        help="with TLS, write insecure-skip-tls-verify into the kubeconfig instead of the CA",
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="Python logging level (default: WARNING)"
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with EmulatorServer(
        host=args.host,
        port=args.port,
        auth=args.auth,
        token=args.token,
        tls=True if args.tls else None,
        insecure_skip_tls_verify=args.insecure_skip_tls_verify,
        kubeconfig_path=args.kubeconfig,
        namespace=args.namespace,
    ) as server:
        print(server.url, flush=True)
        print(server.kubeconfig_path, flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
