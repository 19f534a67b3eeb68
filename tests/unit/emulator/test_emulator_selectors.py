"""Label and field selectors: the API server's grammar, semantics and errors."""

from __future__ import annotations

import pytest
from upir_e2e.emulator.errors import ApiError
from upir_e2e.emulator.selectors import (
    field_getter,
    parse_field_selector,
    parse_label_selector,
    selectable_fields,
    selector_from_label_selector_object,
)

LABELS = {"app": "web", "tier": "front", "version": "3"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),  # != matches objects without the label
        ("app in (web, db)", True),
        ("app in (db)", False),
        ("app notin (db)", True),
        ("missing notin (db)", True),
        ("app notin (web)", False),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("version>2", True),
        ("version<3", False),
        ("app=web,tier in (front,back),!missing", True),
        ("app=web,tier=back", False),
    ],
)
def test_label_selector_semantics(text: str, expected: bool) -> None:
    assert parse_label_selector(text).matches(LABELS) is expected


@pytest.mark.parametrize(
    "text", ["app=", "=web", "app in web", "a b", "app=(x)", "version>x", ",app=web"]
)
def test_label_selector_syntax_errors_are_400(text: str) -> None:
    if text == "app=":  # an empty value is a valid label value
        assert parse_label_selector(text).matches({"app": ""})
        return
    with pytest.raises(ApiError) as info:
        parse_label_selector(text)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"


def test_label_selector_rejects_invalid_values() -> None:
    with pytest.raises(ApiError):
        parse_label_selector("app=" + "x" * 64)


def test_label_selector_object_form() -> None:
    selector = selector_from_label_selector_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}],
        }
    )
    assert selector.matches(LABELS)
    assert not selector.matches({"app": "web", "tier": "back"})


def test_field_selector_matches_metadata_and_escapes() -> None:
    fields = selectable_fields("", "configmaps")
    obj = {"metadata": {"name": "a,b", "namespace": "ns"}}
    values = field_getter(fields)(obj)
    assert parse_field_selector(r"metadata.name=a\,b", fields).matches(values)
    assert parse_field_selector("metadata.namespace==ns,metadata.name!=x", fields).matches(values)
    assert not parse_field_selector("metadata.namespace!=ns", fields).matches(values)
    assert parse_field_selector("metadata.name=n1", fields).names == {"n1"}


def test_field_selector_rejects_unknown_fields() -> None:
    with pytest.raises(ApiError) as info:
        parse_field_selector("spec.replicas=3", selectable_fields("apps", "deployments"))
    assert info.value.code == 400
    assert "field label not supported: spec.replicas" in info.value.message


def test_builtin_and_crd_selectable_fields() -> None:
    events = selectable_fields("", "events")
    event = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "UPIR", "name": "x"},
        "source": {"component": "kopf"},
    }
    values = field_getter(events)(event)
    assert parse_field_selector("involvedObject.kind=UPIR,source=kopf", events).matches(values)
    crd_fields = selectable_fields("upir.dev", "upirs", ("spec.mode",))
    assert parse_field_selector("spec.mode=Auto", crd_fields).matches(
        field_getter(crd_fields)({"metadata": {"name": "u"}, "spec": {"mode": "Auto"}})
    )
