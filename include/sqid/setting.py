"""What a setting is: a name, a type, a default, bounds and a description, declared once.

Every knob a user can turn (a DAG's Params, the ``sqid_amazon`` connection's extra, the
``sqid`` command's flags) is a :class:`Setting` in :mod:`sqid.settings`. Airflow's Trigger
form, the parsing of a connection's extra, the command line and the README's tables are
all made from those declarations, so a default or a bound cannot differ between them.
This module is the machinery; it knows no setting by name.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqid.config import ConfigError

_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    """``bool``, ``int``, ``float``, ``str`` or ``list`` (of strings)."""
    default: Any
    title: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    """The closed set of values (of each item, for a list)."""
    pattern: str | None = None
    empty: str | None = None
    """Set when the value may be left empty (``None``): what an empty value means."""
    examples: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in _JSON_TYPES:
            raise TypeError(f"{self.name}: unsupported type {self.type!r}")
        if self.default is not None or self.empty is None:
            self.check(self.default, "its declaration")

    def over(self, source: str) -> Setting:
        """This setting as a run's Param over another source of it: empty keeps
        ``source``'s value, whose default is this declaration's."""
        return replace(self, default=None, empty=f"{source}'s, else {self.shown_default()}")

    def renamed(self, name: str, title: str, description: str) -> Setting:
        """Another setting with this one's type, default and bounds (a threshold the
        validator applies to two things, for instance)."""
        return replace(self, name=name, title=title, description=description)

    # -- checking -----------------------------------------------------------------
    def check(self, value: Any, where: str) -> Any:
        """``value`` if it fits the declaration (an integer is a fine float); otherwise a
        :class:`ConfigError` that names the setting, ``where`` it came from and why."""
        if value is None and self.empty is not None:
            return None
        if self.type is float and type(value) is int:
            value = float(value)
        if type(value) is not self.type:
            raise ConfigError(
                f"{self.name} in {where}: expected {_JSON_TYPES[self.type]}, got {value!r}"
            )
        for item in value if self.type is list else [value]:
            self._check_one(item, where)
        return value

    def _check_one(self, value: Any, where: str) -> None:
        def refuse(why: str) -> None:
            raise ConfigError(f"{self.name} in {where}: {value!r} {why}")

        if self.minimum is not None and value < self.minimum:
            refuse(f"is below the least allowed value {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            refuse(f"is above the largest allowed value {self.maximum:g}")
        if self.choices and value not in self.choices:
            refuse(f"is not one of {', '.join(self.choices)}")
        if self.type is list and type(value) is not str:
            refuse("is not a string")
        if self.pattern and not re.fullmatch(self.pattern, value):
            like = f"{', '.join(self.examples)}" if self.examples else self.pattern
            refuse(f"is not of the form {like}")

    # -- the forms a setting takes ------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of the value (what Airflow's Param validates and its form shows)."""
        kind = _JSON_TYPES[self.type]
        schema: dict[str, Any] = {"type": ["null", kind] if self.empty is not None else kind}
        one = schema
        if self.type is list:
            one = schema["items"] = {"type": "string"}
            schema["uniqueItems"] = bool(self.choices)
        if self.choices:
            if self.type is list:
                one["enum"] = list(self.choices)
            else:
                schema = {"enum": [*([None] if self.empty is not None else []), *self.choices]}
        for key, value in (("minimum", self.minimum), ("maximum", self.maximum)):
            if value is not None:
                schema[key] = value
        if self.pattern:  # JSON schema searches; the whole value must match
            schema["pattern"] = f"^(?:{self.pattern})$"
        if self.examples:
            schema["examples"] = list(self.examples)
        return schema

    def full_description(self) -> str:
        return f"{self.description} Empty: {self.empty}." if self.empty else self.description

    def shown_default(self) -> str:
        if self.default is None:
            return "empty"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, list):
            return "[]" if not self.default else ", ".join(self.default)
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)

    def bounds(self) -> str:
        if self.choices:
            return " / ".join(self.choices)
        low = "" if self.minimum is None else f"{self.minimum:g}"
        high = "" if self.maximum is None else f"{self.maximum:g}"
        if low and high:
            return f"{low} to {high}"
        return f"≥ {low}" if low else (f"≤ {high}" if high else "")


def check_all(settings: Iterable[Setting], values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``values`` checked against their declarations; a key nothing declares is refused
    with the names that are known (a typo must not leave a default silently in place)."""
    declared = {s.name: s for s in settings}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ConfigError(f"unknown keys {unknown} in {where}; it takes {sorted(declared)}")
    return {key: declared[key].check(value, where) for key, value in values.items()}


def markdown_table(settings: Iterable[Setting], heading: str = "Param") -> str:
    """The README's table of ``settings``: one row each, in declaration order (named as
    command-line flags when ``heading`` is ``flag``)."""
    rows = [f"| {heading} | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for s in settings:
        name = "--" + s.name.replace("_", "-") if heading == "flag" else s.name
        default = f"`{s.shown_default()}`" if s.default is not None else "empty"
        meaning = s.full_description().replace("|", "\\|")
        rows.append(f"| `{name}` | {_JSON_TYPES[s.type]} | {default} | {s.bounds()} | {meaning} |")
    return "\n".join(rows)


def default_of(settings: Iterable[Setting], name: str) -> Any:
    """The default of the setting called ``name`` (what a dataclass field takes)."""
    for s in settings:
        if s.name == name:
            return s.default
    raise KeyError(name)


_TABLE = re.compile(
    r"(<!-- settings:(\w+) -->\n)(?:(?!<!-- settings:).)*?(<!-- /settings -->)", re.S
)


def with_tables(text: str, groups: Mapping[str, Iterable[Setting]]) -> str:
    """``text`` (the README) with each ``<!-- settings:NAME -->`` block holding the table
    of group ``NAME``; an unknown name is an error, not a stale table."""

    def table(match: re.Match) -> str:
        name = match.group(2)
        if name not in groups:
            raise KeyError(f"no settings group {name!r}; there are {sorted(groups)}")
        heading = "extra key" if name == "site" else ("flag" if name == "validate" else "Param")
        return f"{match.group(1)}{markdown_table(groups[name], heading)}\n{match.group(3)}"

    return _TABLE.sub(table, text)


def add_flags(parser: argparse.ArgumentParser, settings: Iterable[Setting]) -> None:
    """One flag per declared setting (``min_vector_share``: ``--min-vector-share``), with
    its default, and its type and bounds checked as the Params and extras check them."""
    for s in settings:
        flag = "--" + s.name.replace("_", "-")
        text = s.full_description().replace("%", "%%")
        if s.type is bool:
            parser.add_argument(flag, action="store_true", help=text)
            continue
        shown = "{" + ",".join(s.choices) + "}" if s.choices else s.name.upper()
        if s.default is not None:
            text += f" (default: {s.shown_default()})"
        parser.add_argument(flag, type=_parse_as(s), default=s.default, metavar=shown, help=text)


def _parse_as(setting: Setting) -> Callable[[str], Any]:
    def parse(text: str):
        try:
            value = setting.type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {setting.type.__name__}, got {text!r}"
            ) from None
        try:
            return setting.check(value, "the command line")
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse
