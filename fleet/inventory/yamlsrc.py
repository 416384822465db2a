"""YAML loading that remembers where every mapping key and list item was written (file and
line), so that validation errors can point a technician at the exact line to fix.

Used by the inventory loader and usable for any YAML file (``monitoring/rules.yml``, the
profiles): :func:`load_yaml` gives data whose mappings are :class:`LinedDict` and whose lists are
:class:`LinedList`; :func:`line_at` finds the line of a path inside it (a pydantic error's
``loc``); :func:`fleet.inventory.validate.validate_with_lines` puts the two together.

Two YAML traps are defused here rather than in every reader:

* an impossible date written unquoted (``2026-02-30``) is kept as the text it is, instead of
  PyYAML's ``ValueError`` escaping as a traceback; the model that expects a date says what is
  wrong with it, at its line;
* a syntax error is reported at the line of its cause (an unclosed quote or bracket, a missing
  ``:``, a tab) with a hint, not only where the parser gave up.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fleet.errors import Problem


class LinedDict(dict[str, Any]):
    """A dict that knows the line of each of its keys and of itself (1-based; 0: unknown)."""

    line: int = 0
    key_lines: dict[str, int]

    @classmethod
    def empty(cls, line: int | None) -> LinedDict:
        """An empty mapping standing for something written at ``line`` (``host:`` alone)."""
        out = cls()
        out.line = line or 0
        out.key_lines = {}
        return out

    def line_of(self, key: str) -> int:
        lines: dict[str, int] = getattr(self, "key_lines", {})
        return lines.get(key, self.line)


class LinedList(list[Any]):
    """A list that knows the line of each of its items and of itself (1-based; 0: unknown)."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        lines = getattr(self, "item_lines", [])
        return lines[index] if 0 <= index < len(lines) else self.line


class VaultTagged(str):
    """An inline `!vault` value: kept opaque, never decrypted here."""

    __slots__ = ()


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: MappingNode) -> LinedDict:
    loader.flatten_mapping(node)
    result = LinedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: SequenceNode) -> LinedList:
    result = LinedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_timestamp(loader: _Loader, node: ScalarNode) -> _dt.date | str:
    """PyYAML's timestamp, except that an impossible date stays text (validated later)."""
    try:
        value: _dt.date = loader.construct_yaml_timestamp(node)
    except ValueError:
        return str(node.value)
    return value


def _construct_vault(loader: _Loader, node: Node) -> VaultTagged:
    assert isinstance(node, ScalarNode)
    return VaultTagged(loader.construct_scalar(node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor("!vault", _construct_vault)
_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]


def load_yaml(path: Path, display: str, problems: list[Problem]) -> Any:
    """Load one YAML file; a syntax error becomes a Problem (with line), returns None."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(display, None, "", None,
                                f"not UTF-8 text (byte {exc.start}): save the file as UTF-8"))
        return None
    except OSError as exc:
        problems.append(Problem(display, None, "", None, f"cannot read file: {exc.strerror}"))
        return None
    return load_yaml_text(text, display, problems)


def load_yaml_text(text: str, display: str, problems: list[Problem]) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as exc:
        line, message = explain_syntax_error(exc, text)
        problems.append(Problem(display, line, "", None, message))
    except yaml.reader.ReaderError as exc:
        line = text[: max(exc.position, 0)].count("\n") + 1
        problems.append(Problem(display, line, "", None,
                                f"YAML error: the character U+{exc.character:04X} is not "
                                "allowed in YAML (an invisible control character, often "
                                "pasted from another program): delete it"))
    except yaml.YAMLError as exc:
        problems.append(Problem(display, None, "", None,
                                "YAML error: " + " ".join(str(exc).split())))
    except RecursionError:
        problems.append(Problem(display, None, "", None, "YAML error: nested too deeply"))
    return None


# (what PyYAML says, whether the cause is at the context mark, the hint for a technician)
_SYNTAX_HINTS: tuple[tuple[str, bool, str], ...] = (
    ("could not find expected ':'", True,
     "a line is missing the ':' after its key, or a quoted text is not closed"),
    ("found unexpected end of stream", True, "a quote (\" or ') is not closed"),
    ("while scanning a quoted scalar", True, "a quote (\" or ') is not closed"),
    ("expected ',' or ']'", True, "a list opened with '[' is not closed with ']'"),
    ("expected ',' or '}'", True, "a mapping opened with '{' is not closed with '}'"),
    ("mapping values are not allowed here", False,
     "a value contains ': ' — put the whole value in quotes"),
    ("found character '\\t'", False, "tabs cannot indent YAML: use spaces"),
    ("that cannot start any token", False,
     "a value starts with a character YAML reserves (@ ` % |): put it in quotes"),
    ("expected <block end>", False,
     "this line is not indented like the lines before it (check the spaces)"),
    ("did not find expected key", False,
     "this line is not indented like the lines before it (check the spaces)"),
    ("did not find expected '-' indicator", False,
     "a list item is not indented like the items before it"),
    ("found unknown escape character", False,
     "a backslash inside double quotes: use single quotes, or write it '\\\\'"),
    ("duplicate key", False, "a key is written twice in the same mapping: keep one"),
    ("found undefined alias", False, "'*' starts an alias in YAML: put the value in quotes"),
)


def explain_syntax_error(exc: yaml.MarkedYAMLError, text: str = "") -> tuple[int | None, str]:
    """The line of the cause of a YAML syntax error, and a message with a hint.

    PyYAML reports where it gave up (``problem_mark``); for an unclosed quote or bracket, or a
    missing ``:``, the cause is where that construct began (``context_mark``).  A quote left
    open runs on until the next quote, lines later, where PyYAML then stumbles: when a line
    before that has an odd number of quotes, it is named as the cause."""
    problem = str(exc.problem or "")
    context = str(exc.context or "")
    both = f"{context} {problem}"
    found = next(((at_ctx, hint) for needle, at_ctx, hint in _SYNTAX_HINTS if needle in both),
                 None)
    at_context = found is not None and found[0] and exc.context_mark is not None
    mark = exc.context_mark if at_context else (exc.problem_mark or exc.context_mark)
    line = mark.line + 1 if mark is not None else None
    detail = " ".join(x for x in (context, problem) if x)
    message = f"YAML syntax error: {detail}"
    open_quote = _unclosed_quote(text, exc.problem_mark.line if exc.problem_mark else None)
    if open_quote is not None and (line is None or open_quote < line):
        line, found = open_quote, (False, "a quote opened on this line is not closed")
    elif "<stream end>" in problem and (bracket := _unclosed_bracket(text)) is not None:
        line, found = bracket, (False, "a '[' or '{' opened on this line is never closed")
    if found is not None:
        message += f" — {found[1]}"
    gave_up = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
    if gave_up is not None and line is not None and gave_up != line:
        message += f" (noticed at line {gave_up})"
    return line, message


def _unclosed_quote(text: str, upto: int | None) -> int | None:
    """The last line (1-based) before index ``upto`` where a quoted scalar starts and is not
    closed on that line.  Quotes inside plain text (``Jour de l'an``) do not count."""
    if not text or upto is None:
        return None
    found = None
    for i, line in enumerate(text.splitlines()[:upto]):
        if _scan(line)[0]:
            found = i + 1
    return found


def _unclosed_bracket(text: str) -> int | None:
    """The line (1-based) of a '[' or '{' that is never closed, if any."""
    opened: list[int] = []
    for i, line in enumerate(text.splitlines()):
        for c in _scan(line)[1]:
            if c in "[{":
                opened.append(i + 1)
            elif opened:
                opened.pop()
    return opened[0] if opened else None


def _scan(line: str) -> tuple[bool, str]:
    """(a quoted scalar is left open, the brackets outside quotes) of one YAML line."""
    brackets = ""
    quote = ""
    prev = ""  # the last non-space character outside quotes
    j = 0
    while j < len(line):
        c = line[j]
        if quote == '"':
            if c == "\\":
                j += 1
            elif c == '"':
                quote, prev = "", '"'
        elif quote == "'":
            if c == "'" and line[j + 1:j + 2] == "'":
                j += 1
            elif c == "'":
                quote, prev = "", "'"
        elif c in "\"'" and prev in ("", ":", "-", "[", "{", ",", "?"):
            quote = c
        elif c == "#" and (j == 0 or line[j - 1] in " \t"):
            break
        elif not c.isspace():
            prev = c if c in ":-[{,?" else "x"
            if c in "[]{}":
                brackets += c
        j += 1
    return bool(quote), brackets


def line_of(obj: Any, key: str | None = None) -> int | None:
    if isinstance(obj, LinedDict):
        return (obj.line_of(key) if key is not None else obj.line) or None
    if isinstance(obj, LinedList):
        return obj.line or None
    return None


def line_at(data: Any, loc: tuple[str | int, ...]) -> int | None:
    """The line of the deepest element of ``loc`` (a path of keys and list indexes) that the
    data knows, e.g. ``("site_networks", "guest")`` → the line of ``guest:``."""
    line = line_of(data)
    node = data
    for step in loc:
        if isinstance(node, LinedDict) and isinstance(step, str) and step in node:
            line = node.line_of(step) or line
            node = node[step]
        elif isinstance(node, LinedList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.line_of(step) or line
            node = node[step]
        else:
            break
    return line
