"""Problems as people read them: pydantic's errors about a definition's shape, in the words of someone who
writes journeys and pointed at the node they are about, and a file's problems in reading order."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from journeys.errors import Problem
from journeys.format import models as definition
from journeys.format.models import EVENT_PATTERN, SLUG_PATTERN, STEP_KINDS, Journey
from journeys.format.yaml import Positions, YamlPath

M = TypeVar("M", bound=BaseModel)


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


def validated(model: type[M], data: Any, positions: Positions, file: str) -> tuple[M | None, list[Problem]]:
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


def sorted_problems(problems: list[Problem], file: str) -> list[Problem]:
    """The file's own problems by line, then those of its template files; each once."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file != file, p.file, p.line, p.col))
