"""Reading resource files: YAML (one or more documents) or JSON, safely.

Only JSON values come out (mappings with string keys, lists, strings, numbers,
booleans, null), so what the CLI reads is what ``kubectl`` would send. The loader
builds them from the YAML *event* stream (libyaml's C parser when available)
rather than through PyYAML's constructor, which keeps it fast and lets it refuse,
at the point where they occur and with line and column:

- syntax errors;
- more than :data:`MAX_NODES` nodes in the file, counting every alias expansion
  (so "billion laughs" alias bombs stop after a bounded amount of work);
- nesting deeper than :data:`MAX_DEPTH`;
- duplicate keys, non-string keys (``on:``, ``1:``) and non-JSON tags
  (``!!binary``, ``!!set``, custom tags), ``.nan`` and ``.inf``.

Aliases are expanded into copies, so no two places of a document share one
Python object (changing one parameter never changes another). Timestamps stay
strings, as in Kubernetes' YAML to JSON conversion. ``kind: List`` documents (as
``kubectl get -o yaml`` prints) are expanded into their items.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events as ev
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.reader import ReaderError
from yaml.resolver import Resolver

from upir.errors import FieldIssue, InvalidSpecError
from upir.resource.validate import describe

MAX_DOCUMENT_BYTES = 1 << 20
"""Largest accepted file, bytes (1 MiB)."""

MAX_NODES = 50_000
"""Most YAML/JSON nodes (scalars and collections, aliases expanded) in one file.
The largest document the schema accepts has about 36,000."""

MAX_DEPTH = 64
"""Deepest nesting of collections (the schema needs 8)."""

MAX_NUMBER_CHARS = 100
"""Longest number literal (a double never needs more than 25 characters)."""

_TAG = "tag:yaml.org,2002:"
_JSON_SCALAR_TAGS = frozenset(
    _TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")
)
_MERGE = _TAG + "merge"


class _Resolver(Resolver):
    """YAML 1.1 implicit types, minus timestamps (Kubernetes keeps them as strings)."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TAG + "timestamp"]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}

_EventLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LoadError(Exception):
    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def _where(mark: Any) -> str:
    return (
        f"line {mark.line + 1}, column {mark.column + 1}"
        if mark is not None
        else "unknown position"
    )


@dataclass
class _Frame:
    """A mapping or sequence under construction."""

    value: dict[str, Any] | list[Any]
    anchor: str | None
    nodes_at_start: int
    key: Any = None
    key_mark: Any = None
    has_key: bool = False
    merges: list[tuple[Any, Any]] = field(default_factory=list)


def _copy(value: Any) -> Any:
    # Depth is bounded by MAX_DEPTH, so recursion is safe here.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class _Builder:
    """Turns a YAML event stream into JSON values, with the limits of this module."""

    def __init__(self) -> None:
        self.resolver = _Resolver()
        self.constructor = SafeConstructor()
        self.nodes = 0
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int] | None] = {}  # None: still being built
        self.documents: list[Any] = []

    def count(self, n: int, mark: Any) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            raise _LoadError(
                f"{_where(mark)}: more than {MAX_NODES} YAML nodes (aliases expanded); refusing to load",
                mark,
            )

    def feed(self, events: Iterable[ev.Event]) -> list[Any]:
        for event in events:
            if isinstance(event, ev.ScalarEvent):
                self.count(1, event.start_mark)
                self.emit(self.scalar(event), event, event.anchor, 1)
            elif isinstance(event, ev.MappingStartEvent):
                self.start(event, {})
            elif isinstance(event, ev.SequenceStartEvent):
                self.start(event, [])
            elif isinstance(event, ev.MappingEndEvent | ev.SequenceEndEvent):
                self.end(event)
            elif isinstance(event, ev.AliasEvent):
                self.alias(event)
            elif isinstance(event, ev.DocumentStartEvent):
                self.anchors = {}
                self.documents.append(None)
        return self.documents

    # ---------------------------------------------------------------- nodes

    def scalar(self, event: ev.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = str(self.resolver.resolve(ScalarNode, event.value, event.implicit))  # type: ignore[no-untyped-call]
        if tag == _MERGE:
            return _MERGE_KEY
        if tag not in _JSON_SCALAR_TAGS:
            raise _LoadError(f"{_where(event.start_mark)}: {_unsupported(tag)}", event.start_mark)
        if tag in (_TAG + "str", _TAG + "timestamp"):
            return event.value
        if len(event.value) > MAX_NUMBER_CHARS and tag in (_TAG + "int", _TAG + "float"):
            raise _LoadError(
                f"{_where(event.start_mark)}: a number may have at most {MAX_NUMBER_CHARS} characters",
                event.start_mark,
            )
        node = ScalarNode(tag, event.value)
        try:
            # Straight to the tag's constructor: construct_object would cache every node.
            value = SafeConstructor.yaml_constructors[tag](self.constructor, node)
        except (yaml.YAMLError, ValueError) as err:
            raise _LoadError(
                f"{_where(event.start_mark)}: not a valid {tag[len(_TAG) :]}: {err}",
                event.start_mark,
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise _LoadError(
                f"{_where(event.start_mark)}: {event.value} is not a JSON number", event.start_mark
            )
        return value

    def start(self, event: ev.CollectionStartEvent, value: dict[str, Any] | list[Any]) -> None:
        tag = event.tag
        expected = _TAG + ("map" if isinstance(value, dict) else "seq")
        if tag not in (None, "!", expected):
            raise _LoadError(f"{_where(event.start_mark)}: {_unsupported(tag)}", event.start_mark)
        if len(self.stack) >= MAX_DEPTH:
            raise _LoadError(
                f"{_where(event.start_mark)}: nesting is deeper than {MAX_DEPTH} levels",
                event.start_mark,
            )
        self.count(1, event.start_mark)
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        self.stack.append(_Frame(value, event.anchor, self.nodes))

    def end(self, event: ev.Event) -> None:
        frame = self.stack.pop()
        if isinstance(frame.value, dict):
            self.apply_merges(frame)
        weight = self.nodes - frame.nodes_at_start + 1
        self.emit(frame.value, event, frame.anchor, weight)

    def alias(self, event: ev.AliasEvent) -> None:
        name = event.anchor
        if name not in self.anchors:
            raise _LoadError(f"{_where(event.start_mark)}: unknown alias *{name}", event.start_mark)
        target = self.anchors[name]
        if target is None:
            raise _LoadError(
                f"{_where(event.start_mark)}: alias *{name} refers to the node that contains it",
                event.start_mark,
            )
        value, weight = target
        self.count(weight, event.start_mark)
        self.emit(_copy(value), event, None, weight)

    def emit(self, value: Any, event: ev.Event, anchor: str | None, weight: int) -> None:
        """Attach a finished node to its parent (or finish the document)."""
        in_key_position = (
            bool(self.stack)
            and isinstance(self.stack[-1].value, dict)
            and not self.stack[-1].has_key
        )
        if value is _MERGE_KEY and not in_key_position:
            value = "<<"  # only a key can merge; anywhere else it is the plain string
        if anchor is not None:
            self.anchors[anchor] = (value, weight)
        if not self.stack:
            self.documents[-1] = value
            return
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            frame.value.append(value)
        elif not frame.has_key:
            frame.key, frame.key_mark, frame.has_key = value, event.start_mark, True
        else:
            self.put(frame, value)

    def put(self, frame: _Frame, value: Any) -> None:
        key, mark = frame.key, frame.key_mark
        frame.has_key = False
        assert isinstance(frame.value, dict)
        if key is _MERGE_KEY:
            frame.merges.append((value, mark))
            return
        if not isinstance(key, str):
            raise _LoadError(
                f"{_where(mark)}: mapping key {describe(key)} is not a string; quote it", mark
            )
        if key in frame.value:
            raise _LoadError(f"{_where(mark)}: duplicate key {key!r} in one mapping", mark)
        frame.value[key] = value

    def apply_merges(self, frame: _Frame) -> None:
        # YAML merge keys (<<: *base): keys written in the mapping win; among merged
        # mappings the earlier one wins, as in PyYAML and go-yaml.
        assert isinstance(frame.value, dict)
        for value, mark in frame.merges:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    raise _LoadError(
                        f"{_where(mark)}: a merge key (<<) needs a mapping or a list of mappings",
                        mark,
                    )
                for k, v in source.items():
                    frame.value.setdefault(k, v)


class _MergeKey:
    def __repr__(self) -> str:
        return "<<"


_MERGE_KEY = _MergeKey()


def _unsupported(tag: str) -> str:
    shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    return (
        f"the YAML tag {shown} is not supported; use plain JSON values "
        "(mappings, lists, strings, numbers, true/false, null)"
    )


def _json_documents(text: str) -> list[Any]:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise _LoadError(f"duplicate key {k!r} in one object")
            out[k] = v
        return out

    def constant(name: str) -> Any:
        raise _LoadError(f"{name} is not a JSON number")

    def number(literal: str, kind: type[int] | type[float]) -> int | float:
        if len(literal) > MAX_NUMBER_CHARS:
            raise _LoadError(f"a number may have at most {MAX_NUMBER_CHARS} characters")
        value = kind(literal)
        if not math.isfinite(value):
            raise _LoadError(f"{literal} is too large for a JSON number")
        return value

    doc = json.loads(
        text,
        object_pairs_hook=pairs,
        parse_constant=constant,
        parse_int=lambda s: number(s, int),
        parse_float=lambda s: number(s, float),
    )
    # JSON has no aliases, but still bound the work and the depth.
    stack: list[tuple[Any, int]] = [(doc, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _LoadError(f"more than {MAX_NODES} JSON values; refusing to load")
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _LoadError(f"nesting is deeper than {MAX_DEPTH} levels")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((c, depth + 1) for c in children)
    return [doc]


def _yaml_documents(text: str) -> list[Any]:
    builder = _Builder()
    return builder.feed(yaml.parse(text, Loader=_EventLoader))


def _parse(text: str) -> list[Any]:
    if text.lstrip()[:1] in ("{", "["):
        try:
            return _json_documents(text)
        except json.JSONDecodeError as json_err:
            try:  # flow-style YAML ({a: 1}) also starts with a brace
                return _yaml_documents(text)
            except (yaml.YAMLError, _LoadError):
                where = f"line {json_err.lineno}, column {json_err.colno}"
                raise _LoadError(f"JSON syntax error at {where}: {json_err.msg}", None) from None
    return _yaml_documents(text)


def _expand_lists(docs: list[Any]) -> list[Any]:
    out: list[Any] = []
    for doc in docs:
        if (
            isinstance(doc, dict)
            and doc.get("kind") == "List"
            and isinstance(doc.get("items"), list)
        ):
            out.extend(doc["items"])
        else:
            out.append(doc)
    return out


def load_documents(text: str, *, source: str) -> list[dict[str, Any]]:
    """Every document of a YAML (multi-document) or JSON text, as JSON values.

    ``source`` names the text in messages (a file path, ``<stdin>``). Raises
    :class:`~upir.errors.InvalidSpecError` (the issue's ``field`` is ``source``,
    ``position`` the 0-based character offset when known) for oversized text,
    syntax errors, the limits of this module, an empty text and documents that
    are not mappings. Empty documents between ``---`` separators are skipped."""

    def fail(message: str, position: int | None = None) -> InvalidSpecError:
        return InvalidSpecError([FieldIssue(source, message, position)])

    if not isinstance(text, str):
        raise fail(f"expected text, got {describe(text)}")
    if (
        len(text) > MAX_DOCUMENT_BYTES
        or len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES
    ):
        size = len(text.encode("utf-8", "surrogatepass"))
        raise fail(f"is {size} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes (1 MiB)")
    text = text.removeprefix("\ufeff")
    try:
        docs = _parse(text)
    except _LoadError as err:
        raise fail(err.message, getattr(err.mark, "index", None)) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        raise fail(
            f"YAML syntax error at {_where(mark)}: {problem}", getattr(mark, "index", None)
        ) from None
    except ReaderError as err:  # a character YAML does not allow
        char = (
            err.character if isinstance(err.character, int) else ord(str(err.character)[:1] or "\0")
        )
        raise fail(
            f"character #x{char:04x} at offset {err.position} is not allowed: {err.reason}",
            err.position,
        ) from None
    except yaml.YAMLError as err:
        raise fail(f"YAML error: {err}") from None
    except RecursionError:
        raise fail(f"nesting is deeper than {MAX_DEPTH} levels") from None
    docs = _expand_lists([d for d in docs if d is not None])
    if not docs:
        raise fail("is empty: no YAML or JSON document in it")
    issues = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            where = f"document {i + 1}" if len(docs) > 1 else "the document"
            issues.append(
                FieldIssue(
                    source,
                    f"{where} is {describe(doc)}, not a mapping (a Kubernetes object with "
                    "apiVersion, kind, metadata and spec)",
                )
            )
    if issues:
        raise InvalidSpecError(issues)
    return docs


_FIELD_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def field_line(text: str, field: str, *, document: int = 0) -> int | None:
    """The 1-based line of ``field`` (a path such as ``spec.specification.
    properties[1]`` or ``spec.specification.constraints.cost``) in the
    ``document``-th document (0-based) of ``text``: the line of the key for a
    mapping entry, of the item for a list entry. ``None`` when the path is not
    there (or the text is a ``kind: List``, whose items were expanded).

    For reports that point at a line (SARIF). Call it only on text that
    :func:`load_documents` accepted: its limits bound the work here."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_EventLoader))
    except yaml.YAMLError:
        return None
    nodes = [n for n in nodes if n is not None]
    if not 0 <= document < len(nodes):
        return None
    node: Any = nodes[document]
    line: int = node.start_mark.line + 1
    for match in _FIELD_PART.finditer(field):
        index, key = match.group(1), match.group(2)
        if index is not None:
            if not isinstance(node, SequenceNode) or int(index) >= len(node.value):
                return None
            node = node.value[int(index)]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, MappingNode):
            return None
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                node, line = v, k.start_mark.line + 1
                break
        else:
            return None
    return line
