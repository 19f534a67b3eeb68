"""``upir-operator``: the operator's entry point.

Reads and validates the ``UPIR_*`` settings once (a bad one stops the start-up
with a message naming it), loads the signing key, and runs kopf with the
handlers of :mod:`upir_operator.handlers`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
import threading
from collections.abc import Sequence

import kopf
import kubernetes
from prometheus_client import start_http_server

from upir.certificates import SigningKey, generate_signing_key, load_signing_key
from upir.errors import PermanentError, SettingsError
from upir.logs import configure_logging
from upir_operator.engine import Engine
from upir_operator.handlers import Runtime, register
from upir_operator.kube import Kube
from upir_operator.settings import OperatorSettings, load_operator_settings

logger = logging.getLogger("upir_operator")


def signing_key(settings: OperatorSettings) -> SigningKey:
    if settings.signing_key_file is None:
        logger.warning(
            "UPIR_SIGNING_KEY_FILE is not set: certificates are signed with an ephemeral key "
            "that dies with this process; mount a Secret for verifiable certificates"
        )
        return generate_signing_key()
    return load_signing_key(settings.signing_key_file.read_bytes())


def connection_info(kubeconfig: str) -> kopf.ConnectionInfo:
    """kopf credentials from a kubeconfig file, via the kubernetes client's loader."""
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)  # type: ignore[no-untyped-call]
    auth = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
    scheme, _, token = (auth or "").partition(" ")
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        username=cfg.username or None,
        password=cfg.password or None,
        scheme=scheme or None,
        token=token or None,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
    )


def configure_kopf(kopf_settings: kopf.OperatorSettings, settings: OperatorSettings) -> None:
    """Status-based storage (no big annotations), peering. kopf posts only its
    WARNING log lines as events; the operator's own Normal and Warning events go
    through ``kopf.event`` (upir_operator.events), which that level does not filter."""
    kopf_settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(name="kopf")
    kopf_settings.persistence.progress_storage = kopf.StatusProgressStorage(name="kopf")
    kopf_settings.posting.level = logging.WARNING
    kopf_settings.watching.server_timeout = 60
    kopf_settings.networking.request_timeout = 30
    if settings.peering:
        kopf_settings.peering.name = settings.peering
        kopf_settings.peering.mandatory = True
        kopf_settings.peering.standalone = False
        # kopf pauses every operator that shares the highest priority: give each
        # replica its own so exactly one of them is active at a time
        kopf_settings.peering.priority = secrets.randbelow(1_000_000) + 1
    else:
        kopf_settings.peering.standalone = True


def build_runtime(settings: OperatorSettings, kubeconfig: str | None = None) -> Runtime:
    return Runtime(
        settings=settings,
        engine=Engine(settings.library, signing_key(settings)),
        kube=Kube.from_environment(settings.field_manager, kubeconfig),
    )


def run_operator(
    settings: OperatorSettings,
    *,
    kubeconfig: str | None = None,
    stop_flag: threading.Event | None = None,
    ready_flag: threading.Event | None = None,
) -> None:
    """Run until ``stop_flag`` is set (or forever). Usable from a thread in tests."""
    runtime = build_runtime(settings, kubeconfig)
    registry = kopf.OperatorRegistry()
    register(registry, runtime)
    kopf_settings = kopf.OperatorSettings()
    configure_kopf(kopf_settings, settings)

    if kubeconfig is not None:
        path = kubeconfig

        @kopf.on.login(registry=registry)
        def login(**_: object) -> kopf.ConnectionInfo:
            # kopf's default login reads KUBECONFIG only once per process; an
            # explicit file (tests, the demo) is read here on every login
            return connection_info(path)

    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="0.0.0.0", registry=runtime.metrics.registry)
    liveness = f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
    asyncio.run(
        kopf.operator(
            registry=registry,
            settings=kopf_settings,
            standalone=settings.peering is None,
            peering_name=settings.peering,
            namespaces=[settings.namespace] if settings.namespace else (),
            clusterwide=settings.namespace is None,
            liveness_endpoint=liveness,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
            memo=kopf.Memo(),
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="upir-operator", description=__doc__)
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_operator_settings(os.environ)
    except SettingsError as err:
        sys.stderr.write(f"upir-operator: {err}\n")
        return 2
    handler = configure_logging(settings.library.log)
    # kopf reports handler failures and retries on its own loggers
    kopf_logger = logging.getLogger("kopf")
    kopf_logger.addHandler(handler)
    kopf_logger.setLevel(logging.INFO if settings.library.log.level == "DEBUG" else logging.WARNING)
    kopf_logger.propagate = False
    try:
        run_operator(settings, kubeconfig=args.kubeconfig or os.environ.get("KUBECONFIG"))
    except PermanentError as err:
        sys.stderr.write(f"upir-operator: {err}\n")
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
