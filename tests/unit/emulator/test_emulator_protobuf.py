"""Protobuf request bodies, as captured from kubectl 1.37's imperative create commands."""

from __future__ import annotations

import pytest
from upir_e2e.emulator.errors import ApiError
from upir_e2e.emulator.protobuf import decode

# `kubectl create namespace x1`
NAMESPACE = b'k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x1a\n\x12\n\x02x1\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00\x12\x00\x1a\x02\n\x00\x1a\x00"\x00'
# `kubectl create secret generic s1 --from-literal=k=v --type=foo/bar`
SECRET = b'k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12%\n\x12\n\x02s1\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00\x12\x06\n\x01k\x12\x01v\x1a\x07foo/bar\x1a\x00"\x00'
# `kubectl create serviceaccount sa1`
SERVICE_ACCOUNT = b'k8s\x00\n\x14\n\x02v1\x12\x0eServiceAccount\x12\x15\n\x13\n\x03sa1\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00\x1a\x00"\x00'


def _envelope(type_meta: bytes, body: bytes) -> bytes:
    """The k8s envelope: magic, then runtime.Unknown{typeMeta=1, raw=2}."""
    return b"k8s\x00\n" + bytes([len(type_meta)]) + type_meta + b"\x12" + bytes([len(body)]) + body


def test_kubectl_bodies_decode_to_their_json_form() -> None:
    assert decode(NAMESPACE) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "x1"},
    }
    assert decode(SECRET) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s1"},
        "data": {"k": "dg=="},  # bytes travel base64-encoded in JSON
        "type": "foo/bar",
    }
    assert decode(SERVICE_ACCOUNT) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa1"},
    }


def test_labels_map_entries() -> None:
    # ConfigMap "c" with labels {"a": "b"} (ObjectMeta field 11) and data {"k": "v"}.
    meta = b"\n\x01c" + b"Z\x06\n\x01a\x12\x01b"
    body = b"\n" + bytes([len(meta)]) + meta + b"\x12\x06\n\x01k\x12\x01v"
    assert decode(_envelope(b"\n\x02v1\x12\tConfigMap", body)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "b"}},
        "data": {"k": "v"},
    }


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind": "Namespace"}',  # no envelope
        _envelope(b"\n\x07apps/v1\x12\nDeployment", b""),  # a kind it cannot read
        _envelope(b"\n\x02v1\x12\tNamespace", b"\n\x04\n\x02x1" + b"H\x01"),  # field 9 is unknown
    ],
)
def test_unsupported_bodies_are_415(body: bytes) -> None:
    with pytest.raises(ApiError) as info:
        decode(body)
    assert info.value.code == 415
