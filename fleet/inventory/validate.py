"""Pydantic validation with errors a technician can act on: ``file:line: field: message``.

The one place where a pydantic :class:`~pydantic.ValidationError` becomes
:class:`~fleet.errors.Problem` objects.  The data must come from
:func:`fleet.inventory.yamlsrc.load_yaml` (mappings and lists that remember their lines);
each error's ``loc`` is looked up in it to find the line.  It works for any YAML file and any
model — the inventory uses it for site files and ``group_vars``; ``monitoring/rules.yml`` and
the SNMP profiles can use it the same way::

    problems: list[Problem] = []
    data = load_yaml(path, "monitoring/rules.yml", problems)
    rules = validate_with_lines(RuleSet, data, "monitoring/rules.yml")  # raises InventoryError

What the messages say:

* a missing key: ``required key missing``; an unknown key: ``unknown key 'x'`` with
  ``(did you mean 'y'?)`` from the model's own field names (plus a model's ``HINTS``, e.g.
  French weekday names);
* a validator's ``ValueError`` message as written (pydantic's ``Value error,`` prefix removed);
  a validator may raise :class:`FieldError` to point below its own field (a model validator
  saying which key is wrong), or with several ``(loc, message)`` pairs to report them all;
* a number out of bounds: pydantic's bound (``must be greater than or equal to 1``) and the
  value refused (``, not the number 0``);
* pydantic's own message otherwise.
"""

from __future__ import annotations

from types import MappingProxyType

import difflib
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fleet.errors import ConfigError, FieldError, FleetError, InventoryError, Problem
from fleet.inventory.yamlsrc import line_at

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


def validate_with_lines(
    model: type[M],
    data: Any,
    source: str,
    *,
    where: str = "",
    context: Mapping[str, Any] | None = None,
    error: Callable[[list[Problem]], FleetError] = InventoryError,
    line: int | None = None,
) -> M:
    """Validate ``data`` (loaded by :mod:`~fleet.inventory.yamlsrc`) into ``model``.

    Every error becomes a :class:`Problem` named ``source:line: where+field``; all of them are
    raised together as ``error(problems)`` (:class:`InventoryError` unless told otherwise).
    ``line``: where ``data`` itself is written (its key's line, or 1 for a whole file), for an
    error about a value that knows no line (a text where a mapping was expected)."""
    try:
        return model.model_validate(data, context=dict(context) if context else None)
    except ValidationError as exc:
        raise error(problems_from(exc, data, source, where=where, model=model,
                                  line=line)) from None


def config_error(problems: list[Problem]) -> ConfigError:
    """The ``file:line: field: message (and N more)`` of ``problems`` as a
    :class:`~fleet.errors.ConfigError`: for configuration files that are not the inventory
    (``monitoring/rules.yml``, the SNMP profiles); pass it as ``error=``."""
    return ConfigError(str(InventoryError(problems)))


def problems_from(
    exc: ValidationError,
    data: Any,
    source: str,
    *,
    where: str = "",
    model: type[BaseModel] | None = None,
    line: int | None = None,
) -> list[Problem]:
    """The :class:`Problem` of each error of ``exc``, located in ``data`` (see module doc;
    ``line`` as for :func:`validate_with_lines`)."""
    problems: list[Problem] = []
    for full, msg, value in errors_of(exc, model):
        field = (where + _dotted(full)) if full else where.rstrip(".")
        at = line_at(data, full) or line
        problems.append(Problem(source, at, field, _shown(value), msg))
    return problems


def errors_of(
    exc: ValidationError,
    model: type[BaseModel] | None = None,
    *,
    branches: Iterable[str] = (),
) -> list[tuple[Loc, str, object]]:
    """Each error of ``exc`` as ``(loc, message, value)``, worded as the module doc says, once.

    :func:`problems_from` locates them in one file's data; a caller whose data was merged from
    several files (the network intent, :mod:`fleet.inventory.network`) locates them itself.
    ``branches``: the names pydantic puts in a ``loc`` for the member of a union it tried
    (``str-enum[PortRole]``, ``_PortIn``); they are dropped, and of the members' errors at one
    place only those of the member the value's type was meant for are kept (a text given
    where a role name or a mapping is accepted is not also told it is not a mapping)."""
    tags = frozenset(branches)
    found: list[tuple[Loc, str, object]] = []
    seen: set[tuple[object, ...]] = set()
    mismatched: dict[int, Loc] = {}  # a union member not meant for the value's type: its place
    meant: set[Loc] = set()  # the unions where a member meant for the value's type failed
    for err in exc.errors(include_url=False):
        raw_loc: Loc = tuple(err["loc"])
        loc: Loc = tuple(step for step in raw_loc if step not in tags)
        at = [i for i, step in enumerate(raw_loc) if step in tags]
        place: Loc | None = tuple(x for x in raw_loc[: at[-1]] if x not in tags) if at else None
        wrong_type = at != [] and at[-1] == len(raw_loc) - 1 and (
            str(err["type"]) in _TYPE_WORDS
            or (str(err["type"]) in ("enum", "literal_error")
                and not isinstance(err.get("input"), str)))
        ctx = err.get("ctx") or {}
        raised = ctx.get("error")
        if isinstance(raised, FieldError):
            items = [(loc + sub, msg, err.get("input") if value is ... else value)
                     for sub, msg, value in raised.errors]
        else:
            items = [(loc, _message(err, loc, model), err.get("input"))]
        for item in items:
            if (item[0], item[1]) in seen:
                continue
            seen.add((item[0], item[1]))
            if place is not None and wrong_type:
                mismatched[len(found)] = place
            elif place is not None:
                meant.add(place)
            found.append(item)
    return [item for i, item in enumerate(found) if mismatched.get(i) not in meant]


def _dotted(loc: Loc) -> str:
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _shown(value: object) -> object:
    """The refused value as a report shows it: plain data, never a huge mapping."""
    if isinstance(value, Mapping):
        return "{…}" if len(value) > 4 else dict(value)
    if isinstance(value, list | tuple):
        return "[…]" if len(value) > 6 else list(value)
    return value


_TYPE_WORDS = MappingProxyType({
    "string_type": "a text in quotes",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
})

_BOUNDS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal",
                     "multiple_of"})
"""Bound errors: pydantic's message says the bound, not the value refused."""


def describe(value: object) -> str:
    """How YAML read a value, in a technician's words (to explain a type error)."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _message(err: Mapping[str, Any], loc: Loc, model: type[BaseModel] | None) -> str:
    kind = str(err["type"])
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "required key missing"
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else ""
        found, names, aliases = _known_keys(model, loc[:-1])
        suggestion = hint(name, names, aliases)
        if not suggestion and found is not None and hasattr(found, "unknown_key_hint"):
            suggestion = str(found.unknown_key_hint(name))
        return f"unknown key {name!r}{suggestion}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "assertion_error":
        return str(err["msg"]).removeprefix("Assertion failed, ")
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]}, not {describe(err.get('input'))}"
    if kind in _BOUNDS:  # "Input should be greater than or equal to 1" and the value refused
        said = str(err["msg"]).replace("Input should be", "must be", 1)
        return f"{said}, not {describe(err.get('input'))}"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        return (f"{err.get('input')!r} is not one of: {', '.join(o for o in options if o)}"
                f"{hint(str(err.get('input')), options)}")
    return str(err["msg"])


def hint(word: str, options: Iterable[str], aliases: Mapping[str, str] | None = None) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or nothing.  ``aliases`` maps common
    mistakes to the right word (``{"lundi": "mon"}``)."""
    table = {o.lower(): o for o in options}
    table.update({k.lower(): v for k, v in (aliases or {}).items()})
    match = difflib.get_close_matches(word.lower(), list(table), n=1, cutoff=0.6)
    return f" (did you mean {table[match[0]]!r}?)" if match else ""


def _known_keys(
    model: type[BaseModel] | None, loc: Sequence[str | int]
) -> tuple[type[BaseModel] | None, list[str], dict[str, str]]:
    """The model found where ``loc`` points (walking the fields), the keys it accepts, and its
    ``HINTS`` (a mapping of common mistakes to the right key)."""
    current: Any = model
    for step in loc:
        current = _inner(current, step)
        if current is None:
            return None, [], {}
    found = [c for c in _unwrap(current) if isinstance(c, type) and issubclass(c, BaseModel)]
    if not found:
        return None, [], {}
    names = [f.alias or n for n, f in found[0].model_fields.items()]
    return found[0], names, dict(getattr(found[0], "HINTS", {}))


def _inner(tp: Any, step: str | int) -> Any:
    """The type found one step below ``tp`` (a model's field, a list's item, a dict's value)."""
    for candidate in _unwrap(tp):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            if isinstance(step, str):
                for name, f in candidate.model_fields.items():
                    if step in (name, f.alias):
                        return f.annotation
                extra = _extra_of(candidate)
                if extra is not None:
                    return extra
            continue
        origin = typing.get_origin(candidate)
        args = typing.get_args(candidate)
        if origin in (list, tuple, Sequence) and isinstance(step, int) and args:
            return args[0]
        if origin in (dict, Mapping) and len(args) == 2:
            return args[1]
    return None


def _extra_of(model: type[BaseModel]) -> Any:
    """The type of a model's other keys, when it declares one
    (``__pydantic_extra__: dict[str, X]`` → ``X``)."""
    if model.model_config.get("extra") != "allow":
        return None
    try:
        declared = typing.get_type_hints(model).get("__pydantic_extra__")
    except (NameError, TypeError):
        return None
    args = typing.get_args(declared)
    return args[1] if typing.get_origin(declared) is dict and len(args) == 2 else None


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out += _unwrap(arg)
        return out
    return [tp]
