"""Read journey and template files into models, reporting every problem as `file:line:col: message`.

YAML is composed with ruamel.yaml (YAML 1.2 core schema, so `09:00` stays a string) into plain dicts,
lists and scalars, keeping the position of every key and value in a `Positions` map. Pydantic checks the
shape; its errors are translated into messages for the people who write journeys, and then
`journeys.format.validation` checks the rules that need the whole journey.
"""

from __future__ import annotations

import codecs
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scanner import RoundTripScanner

from journeys.errors import DefinitionError, Problem
from journeys.format import models as definition
from journeys.format.models import CHANNELS, EVENT_PATTERN, SLUG_PATTERN, STEP_KINDS, Journey, Message
from journeys.format.validation import check, check_message
from journeys.templates import TemplateFiles

YamlPath = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

MAX_DEFINITION_BYTES = 256 * 1024  # a journey or template file: it travels inside every run, and YAML parses slowly
MAX_JOURNEY_STEPS = 1_000
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


# --- YAML -----------------------------------------------------------------------------------------


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


# --- pydantic errors in people's words ------------------------------------------------------------


def _all_models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [definition.Model]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += [sub for sub in cls.__subclasses__() if sub.__module__ == definition.__name__]
    return found


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


ALL_KEYS = sorted({key for model in _all_models() for key in _keys(model)})
_KIND_OF = {cls: kind for kind, cls in STEP_KINDS.items()}
_NOUNS: dict[type[BaseModel], str] = {
    Journey: "a journey",
    definition.QuietHours: "quiet_hours",
    definition.Limit: "a limit",
    definition.BranchCase: "a branch case",
    definition.Cohort: "a split cohort",
    definition.Gather: "gather",
    definition.WaitUntil: "wait",
    definition.Entry: "entry",
}


def _unwrap(tp: Any) -> Any:
    """Strip `Annotated` and `| None`, which add nothing to an error's location."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _field(model: type[BaseModel], key: Any) -> FieldInfo | None:
    return next((f for name, f in model.model_fields.items() if key in (name, f.alias)), None)


def _member(members: tuple[Any, ...], label: Any) -> Any:
    """The union member an error label names: a discriminator tag or a model's class name."""
    for member in members:
        tags = [m.tag for m in getattr(member, "__metadata__", ()) if hasattr(m, "tag")]
        base = _unwrap(member)
        if label in tags or (_is_model(base) and label == base.__name__):
            return base
    return None


@dataclass
class _Located:
    path: YamlPath  # the error's location in the YAML data: tags and union labels removed
    owner: type[BaseModel] | None  # the model holding the last key
    leaf: Any  # the type expected at the location, when known
    is_key: bool  # the error is about a mapping key, not its value


_MISSING = object()


def _locate(model: type[BaseModel], loc: tuple[Any, ...], data: Any) -> _Located | None:
    """Follow a pydantic error location through the models and the data (None: a union branch not taken)."""
    tp: Any = model
    raw, path, owner, is_key = data, [], None, False
    for elem in loc:
        tp = _unwrap(tp)
        if elem == "[key]":
            is_key = True
            continue
        if get_origin(tp) in (Union, UnionType):
            members = get_args(tp)
            tp = _member(members, elem)
            if tp is None and any(_is_model(_unwrap(m)) for m in members) and isinstance(raw, dict):
                return None  # a scalar branch failed on a mapping: the model branch says what is wrong
            if _is_model(tp) and not isinstance(raw, dict):
                return None  # the model branch failed on a scalar: the scalar branch says what is wrong
            continue
        if _is_model(tp):
            owner = tp
            info = _field(tp, elem)
            tp = info.annotation if info else None
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            tp = None
        path.append(elem)
        in_list = isinstance(raw, list) and isinstance(elem, int) and 0 <= elem < len(raw)
        raw = raw[elem] if in_list or (isinstance(raw, dict) and elem in raw) else _MISSING
    return _Located(tuple(path), owner, _unwrap(tp), is_key)


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f", did you mean {close[0]!r}?" if close else ""


def _a(word: str) -> str:
    if word.endswith("s"):
        return word
    return ("an " if word[0] in "aeiou" else "a ") + word


def _noun(model: type[BaseModel] | None) -> str:
    if model in _KIND_OF:
        return f"a {_KIND_OF[model]} step"
    return _NOUNS.get(model, "this") if model else "this"


def _unknown_key(key: str, owner: type[BaseModel] | None) -> str:
    local = _keys(owner) if owner else []
    hint = _suggest(key, local) or _suggest(key, [k for k in ALL_KEYS if k != key])
    if hint or not local:
        return f"unknown key {key!r}{hint}"
    return f"unknown key {key!r} ({_noun(owner)} takes {', '.join(local)})"


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _step_kind_problems(step: Any, label: str, path: YamlPath, positions: Positions, file: str) -> list[Problem]:
    """A step with no kind key, or several: say which, and catch a misspelt kind."""
    kinds = ", ".join(STEP_KINDS)
    if not isinstance(step, dict):
        return [Problem(file, *positions.at(path), f"{label} must be a mapping with an id and one of {kinds}")]
    present = [k for k in STEP_KINDS if k in step]
    if len(present) > 1:
        where = positions.key(path + (present[1],))
        return [Problem(file, *where, f"{label} has more than one kind: {', '.join(present)}")]
    step_keys = {k for cls in STEP_KINDS.values() for k in _keys(cls)}
    misspelt = [
        Problem(file, *positions.key(path + (key,)), f"{label}: unknown key {key!r}{hint}")
        for key in step
        if key not in step_keys and (hint := _suggest(key, list(STEP_KINDS)))
    ]
    return misspelt or [Problem(file, *positions.at(path), f"{label} has no kind: expected one of {kinds}")]


def _step_label(data: Any, path: YamlPath) -> str | None:
    """`step 'id'` (or `step 3` when it has no usable id) for a location inside a step."""
    if len(path) < 2 or path[0] != "steps" or not isinstance(path[1], int) or not isinstance(data, dict):
        return None
    steps = data.get("steps")
    step = steps[path[1]] if isinstance(steps, list) and path[1] < len(steps) else None
    return (
        f"step {step['id']!r}" if isinstance(step, dict) and isinstance(step.get("id"), str) else f"step {path[1] + 1}"
    )


def _message(error: Any, where: _Located) -> str:
    """One pydantic error in the words of someone who writes journeys."""
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    names = [e for e in where.path if isinstance(e, str)]
    name = names[-1] if names else "the file"
    if kind == "missing":
        return f"missing required key {name!r} ({_noun(where.owner)} needs {_a(name)})"
    if kind == "extra_forbidden":
        return _unknown_key(name, where.owner)
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == SLUG_PATTERN:
        what = "name" if where.is_key else name
        return f"{value!r} is not a valid {what}: use lowercase letters, digits, _ and -, starting with a letter"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == EVENT_PATTERN:
        return f"{value!r} is not a valid event name: use letters, digits, _ . : and -, starting with a letter"
    if kind == "literal_error" and get_origin(where.leaf) is Literal:
        allowed = [str(a) for a in get_args(where.leaf)]
        hint = _suggest(str(value), allowed) if isinstance(value, str) else ""
        return f"{name!r} must be one of {', '.join(allowed)}, not {_describe(value)}{hint}"
    if kind in ("model_type", "dict_type"):
        return f"{name!r} must be a mapping of keys, not {_describe(value)}"
    if kind == "list_type":
        return f"{name!r} must be a list, not {_describe(value)}"
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = re.sub(r"^(Input|List|Dictionary|String|Value) should", f"{name!r} should", message)
    message = message.replace(" after validation", "")
    if message.startswith(f"{name!r} should") and not isinstance(value, dict | list):
        message += f", not {value!r}"
    return message


def _validate(model: type[M], data: Any, positions: Positions, file: str) -> tuple[M | None, list[Problem]]:
    """The model, or every shape problem pointed at its node (None when there is any)."""
    if not isinstance(data, dict):
        return None, [Problem(file, 1, 1, "the top level must be a mapping of keys, not a list")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    problems = []
    for error in errors:
        where = _locate(model, error["loc"], data)
        if where is None:
            continue
        if error["type"] == "step_kind":
            label = _step_label(data, where.path) or "step"
            problems += _step_kind_problems(error["input"], label, where.path, positions, file)
            continue
        on_key = error["type"] == "extra_forbidden" or where.is_key
        line, col = positions.key(where.path) if on_key else positions.at(where.path)
        label = _step_label(data, where.path)
        message = _message(error, where)
        problems.append(Problem(file, line, col, f"{label}: {message}" if label else message))
    return None, problems


# --- files ----------------------------------------------------------------------------------------


def _sorted(problems: list[Problem], file: str) -> list[Problem]:
    """The file's own problems by line, then those of its template files; each once."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file != file, p.file, p.line, p.col))


def _load(path: Path, templates: TemplateFiles | None) -> tuple[Journey | None, Positions, list[Problem]]:
    file = str(path)
    try:
        data, positions = load_yaml(path, max_bytes=MAX_DEFINITION_BYTES, max_int=MAX_INT)
    except DefinitionError as exc:
        return None, Positions(), exc.problems
    journey, problems = _validate(Journey, data, positions, file)
    if journey is not None and len(journey.steps) > MAX_JOURNEY_STEPS:
        message = f"a journey has at most {MAX_JOURNEY_STEPS:,} steps, this one has {len(journey.steps):,}"
        return None, positions, [Problem(file, *positions.at(("steps",)), message)]
    if journey is not None:
        problems += check(journey, positions, file, templates or TemplateFiles(Path(path).parent / "templates"))
    return journey, positions, _sorted(problems, file)


def load_journey(path: Path, templates: TemplateFiles | None = None) -> tuple[Journey | None, list[Problem]]:
    """Load and validate one journey file: the journey (None when its shape is wrong) and every problem."""
    journey, _, problems = _load(path, templates)
    return journey, problems


def _channel_of(path: Path) -> str | None:
    """Template files are named `name[.locale].channel.yaml`."""
    parts = Path(path).name.split(".")
    return parts[-2] if len(parts) >= 3 and parts[-2] in CHANNELS else None


def load_message_file(path: Path) -> tuple[Message | None, list[Problem]]:
    """Load a template file: the fields of an inline `message:`, checked for its channel (from the name)."""
    file = str(path)
    try:
        data, positions = load_yaml(path, max_bytes=MAX_DEFINITION_BYTES, max_int=MAX_INT)
    except DefinitionError as exc:
        return None, exc.problems
    message, problems = _validate(Message, data, positions, file)
    if message is not None:
        problems += check_message(message, positions, file, _channel_of(path))
    return message, _sorted(problems, file)


def load_or_raise(path: Path, templates: TemplateFiles | None = None) -> Journey:
    """The journey, or `DefinitionError` carrying every problem when there is any error (warnings pass)."""
    journey, problems = load_journey(path, templates)
    if journey is None or any(p.severity == "error" for p in problems):
        raise DefinitionError(problems)
    return journey


def load_directory(folder: Path) -> dict[str, Journey]:
    """Every `*.yaml` journey directly in `folder`, by id; `DefinitionError` on any error or a reused id."""
    templates = TemplateFiles(Path(folder) / "templates")
    journeys: dict[str, Journey] = {}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        if not path.is_file():
            continue
        journey, positions, found = _load(path, templates)
        problems += found
        if journey is None:
            continue
        if journey.id in journeys:
            where = positions.at(("id",))
            problems.append(
                Problem(str(path), *where, f"journey id {journey.id!r} is already used by {files[journey.id]}")
            )
            continue
        journeys[journey.id] = journey
        files[journey.id] = str(path)
    problems = list(dict.fromkeys(problems))
    if any(p.severity == "error" for p in problems):
        raise DefinitionError(problems)
    return journeys
