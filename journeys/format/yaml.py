"""YAML with positions: a file composed with ruamel.yaml (YAML 1.2 core schema, so `09:00` stays a string) into
plain dicts, lists and scalars, keeping the position of every key and value in a `Positions` map; every reason
a file cannot be read (size, encoding, syntax, depth, duplicate keys, tags, numbers) is a `Problem` at its place."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scanner import RoundTripScanner

from journeys.errors import DefinitionError, Problem

YamlPath = tuple[str | int, ...]

MAX_DEFINITION_BYTES = 256 * 1024  # a journey or template file: it travels inside every run, and YAML parses slowly
MAX_INT = 2**63 - 1  # numbers in definitions: what the store and Temporal's payloads hold
MAX_FLOW_NESTING = 100  # `[` and `{` inside each other: ruamel takes seconds at 500 deep, minutes beyond

_CONSTRUCTED_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null"))
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_KNOWN_TAGS = _CONSTRUCTED_TAGS | {f"tag:yaml.org,2002:{t}" for t in ("str", "seq", "map", "timestamp", "merge")}
_LEADING_ZERO = re.compile(r"^[+-]?0[0-9]")


@dataclass
class Positions:
    """Where each node of a YAML file is: path such as ('steps', 3, 'timeout') → (line, col), 1-based."""

    values: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: YamlPath) -> tuple[int, int]:
        """The value at `path`, or its deepest ancestor that exists (the file's start at worst)."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.values:
                return self.values[path[:n]]
        return (1, 1)

    def key(self, path: YamlPath) -> tuple[int, int]:
        """The key of the mapping entry at `path` (for "unknown key"), else as `at`."""
        return self.keys.get(path) or self.at(path)


def _mark(node: Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns composed nodes into plain data, recording positions and finding duplicate keys."""

    def __init__(self, file: str, max_int: int | None = None) -> None:
        self.file = file
        self.max_int = max_int
        self.positions = Positions()
        self.problems: list[Problem] = []
        self._constructor = YAML(typ="safe", pure=True).constructor
        self._done: dict[int, Any] = {}  # aliases share one converted value: no exponential blow-up
        self._merged: dict[int, list[tuple[Node, Node]]] = {}  # what a mapping brings to a merge key, once
        self._open: set[int] = set()

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.file, *_mark(node), message))

    def convert(self, node: Node, path: YamlPath) -> Any:
        self.positions.values[path] = _mark(node)
        if id(node) in self._done:
            return self._done[id(node)]
        if id(node) in self._open:
            self.problem(node, "an alias refers to the node that contains it")
            return None
        self._open.add(id(node))
        if node.tag not in _KNOWN_TAGS:
            self.problem(node, f"the YAML tag {_short(node.tag)} is not supported: remove it")
            value: Any = None
        elif isinstance(node, MappingNode):
            value = self._mapping(node, path)
        elif isinstance(node, SequenceNode):
            value = [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        elif node.tag == _INT_TAG and node.style is None and _LEADING_ZERO.match(node.value):
            value = node.value  # 007, 0912…: an identifier or a phone number, not the number 7
        elif node.tag in _CONSTRUCTED_TAGS:
            try:
                value = self._constructor.construct_object(node)
            except (YAMLError, ValueError):
                self.problem(node, f"{_short(node.value)} is not a valid {node.tag.rsplit(':', 1)[-1]}")
                value = None
            if isinstance(value, int) and self.max_int is not None and abs(value) > self.max_int:
                self.problem(node, f"{_short(node.value)} is too large a number (at most {self.max_int:,})")
                value = None
        else:  # strings, and timestamps kept as written; ruamel marks folded (>) line breaks with \a
            value = node.value.replace("\a", "") if node.style == ">" else node.value
        self._open.discard(id(node))
        self._done[id(node)] = value
        return value

    def _pairs(self, node: MappingNode) -> list[tuple[Node, Node, bool]]:
        """Own entries, then those brought in by merge keys (`<<: *defaults`), flagged as merged."""
        own = [(k, v, False) for k, v in node.value if k.tag != _MERGE_TAG]
        merged: list[tuple[Node, Node, bool]] = []
        for k, v in node.value:
            if k.tag != _MERGE_TAG:
                continue
            for source in v.value if isinstance(v, SequenceNode) else [v]:
                if not isinstance(source, MappingNode) or id(source) in self._open:
                    self.problem(source, "a merge key (<<) needs a mapping or a list of mappings")
                    continue
                merged += [(mk, mv, True) for mk, mv in self._merge_source(source)]
        return own + merged

    def _merge_source(self, source: MappingNode) -> list[tuple[Node, Node]]:
        """The entries a mapping brings to a merge key, the first of each key: worked out once per mapping, so
        that mappings merging each other twice over (`<<: [*a, *a]`, level after level) stay small."""
        if id(source) not in self._merged:
            self._open.add(id(source))
            entries, seen = [], set()
            for key, value, _ in self._pairs(source):
                name = key.value if isinstance(key, ScalarNode) else id(key)
                if name not in seen:
                    seen.add(name)
                    entries.append((key, value))
            self._open.discard(id(source))
            self._merged[id(source)] = entries
        return self._merged[id(source)]

    def _mapping(self, node: MappingNode, path: YamlPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node, merged in self._pairs(node):
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, "a key must be plain text (a value starting with '{{' must be in quotes)")
                continue
            key = str(key_node.value)
            if key in result:
                if not merged:
                    line = self.positions.keys[path + (key,)][0]
                    self.problem(key_node, f"duplicate key {key!r} (first given at line {line})")
                continue
            self.positions.keys[path + (key,)] = _mark(key_node)
            result[key] = self.convert(value_node, path + (key,))
        return result


def _short(text: str, limit: int = 40) -> str:
    """`text` quoted for a message, cut short when long (a number of 5,000 digits, a tag of a page)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"… ({len(text):,} characters)"


def encoding_hint(raw: bytes) -> str:
    """What a file that is not UTF-8 seems to be, for the error message: ' (it is UTF-16)', or ''."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return " (it is UTF-16)"
    if b"\x00" in raw:
        return ""
    letters = [ch for ch in raw.decode("cp1256", errors="ignore") if not ch.isascii() and ch.isalpha()]
    arabic = sum(1 for ch in letters if "\u0600" <= ch <= "\u06ff")
    return " (it looks like Windows-1256)" if letters and arabic * 2 > len(letters) else ""


def not_utf8(raw: bytes, exc: UnicodeDecodeError) -> tuple[int, int, str]:
    """Line, column and hint for bytes that are not UTF-8."""
    line = raw.count(b"\n", 0, exc.start) + 1
    col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    return line, col, encoding_hint(raw)


def _syntax_problem(file: str, text: str, exc: YAMLError) -> Problem:
    if isinstance(exc, ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        return Problem(file, line, col, f"character {shown} is not allowed in YAML")
    if not isinstance(exc, MarkedYAMLError) or exc.problem_mark is None:
        return Problem(file, 1, 1, f"YAML syntax error: {str(exc).splitlines()[0]}")
    line, col = exc.problem_mark.line + 1, exc.problem_mark.column + 1
    message = f"YAML syntax error: {exc.problem}"
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} started at line {exc.context_mark.line + 1})"
    source_line = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
    if "\t" in source_line:
        message += "; indent with spaces, not tabs"
    elif "{{" in source_line:
        message += "; a value starting with '{{' must be in quotes"
    return Problem(file, line, col, message)


class _TooDeep(YAMLError):
    def __init__(self, line: int, col: int) -> None:
        super().__init__("nested too deeply")
        self.line, self.col = line, col


class _Scanner(RoundTripScanner):
    """ruamel's round-trip scanner, refusing brackets nested over `MAX_FLOW_NESTING` deep before they get slow."""

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:  # noqa: N803 (ruamel's name)
        if len(self.flow_context) >= MAX_FLOW_NESTING:
            mark = self.reader.get_mark()
            raise _TooDeep(mark.line + 1, mark.column + 1)
        super().fetch_flow_collection_start(TokenClass, to_push)


def _compose(path: Path, max_bytes: int | None) -> tuple[str, Node]:
    """The file's top node; every reason it has none raises `DefinitionError`."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DefinitionError([Problem(file, 1, 1, f"cannot read the file: {exc.strerror}")]) from None
    if max_bytes is not None and len(raw) > max_bytes:
        message = f"the file is {len(raw):,} bytes, over the limit of {max_bytes:,}"
        raise DefinitionError([Problem(file, 1, 1, message)])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col, hint = not_utf8(raw, exc)
        raise DefinitionError(
            [Problem(file, line, col, f"the file is not valid UTF-8 text{hint}: save it as UTF-8")]
        ) from None
    yaml = YAML(typ="rt")
    yaml.Scanner = _Scanner
    try:
        node = yaml.compose(text)
    except _TooDeep as exc:
        raise DefinitionError([Problem(file, exc.line, exc.col, "the file is nested too deeply")]) from None
    except YAMLError as exc:
        raise DefinitionError([_syntax_problem(file, text, exc)]) from None
    except RecursionError:
        raise DefinitionError([Problem(file, 1, 1, "the file is nested too deeply")]) from None
    if node is None:
        raise DefinitionError([Problem(file, 1, 1, "the file is empty")])
    if isinstance(node, ScalarNode):
        raise DefinitionError([Problem(file, 1, 1, "the top level must be a mapping of keys or a list, not one value")])
    return file, node


def load_yaml(path: Path, *, max_bytes: int | None = None, max_int: int | None = None) -> tuple[Any, Positions]:
    """Parse a YAML file whose top level is a mapping or a list (of records); problems raise `DefinitionError`.

    `max_bytes` refuses a larger file, `max_int` larger numbers (both unbounded by default).
    """
    data, positions, problems = load_yaml_records(path, max_bytes=max_bytes, max_int=max_int)
    if problems:
        raise DefinitionError(problems)
    return data, positions


def load_yaml_records(
    path: Path, *, max_bytes: int | None = None, max_int: int | None = None
) -> tuple[Any, Positions, list[Problem]]:
    """As `load_yaml`, but problems inside the data (a duplicate key, a bad number) are returned, not raised,
    so that a file of records can reject only the records that hold them; the file as a whole still raises."""
    file, node = _compose(path, max_bytes)
    builder = _Builder(file, max_int)
    try:
        data = builder.convert(node, ())
    except RecursionError:
        raise DefinitionError([Problem(file, 1, 1, "the file is nested too deeply")]) from None
    return data, builder.positions, sorted(builder.problems)
