"""YAML loading that remembers where every mapping key was written (file and line), so that
validation errors can point a technician at the exact line to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from fleet.errors import Problem


class LinedDict(dict[str, Any]):
    """A dict that knows the line of each of its keys and of itself (1-based)."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


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


def _construct_vault(loader: _Loader, node: Node) -> VaultTagged:
    assert isinstance(node, ScalarNode)
    return VaultTagged(loader.construct_scalar(node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("!vault", _construct_vault)
_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]

def load_yaml(path: Path, display: str, problems: list[Problem]) -> Any:
    """Load one YAML file; a syntax error becomes a Problem (with line), returns None."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(display, None, "", None, f"cannot read file: {exc}"))
        return None
    return load_yaml_text(text, display, problems)


def load_yaml_text(text: str, display: str, problems: list[Problem]) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = f"YAML syntax error: {exc.problem or exc.context}"
        problems.append(Problem(display, line, "", None, msg))
    except yaml.YAMLError as exc:
        problems.append(Problem(display, None, "", None, f"YAML error: {exc}"))
    return None


def line_of(obj: Any, key: str | None = None) -> int | None:
    if isinstance(obj, LinedDict):
        return obj.line_of(key) if key is not None else obj.line
    return None
