"""YAML with line and column marks, and pydantic errors turned into ``file:line:col: ...``.

Reusable for any YAML file validated by a pydantic model (profiles, the daemon config):
``parse_model(text, "config.yaml", ConfigModel, "config")`` does it all, or by steps:

    loaded = load_yaml(text, "desktop.yaml")           # raises SourceError on bad YAML
    try:
        Model.model_validate(loaded.data)
    except pydantic.ValidationError as exc:
        errors = errors_from_validation(exc, loaded, Model, "profile")

Only ``yaml.SafeLoader`` is used: the document is composed into nodes (which carry
marks) and each scalar is constructed by the safe constructor. Before that, the event
stream is measured (:func:`limit_error`): a document nested too deeply or too big once
its aliases are expanded (a "billion laughs" bomb) is refused with its position, and so
is an explicit tag on a mapping or list (``!!python/object/apply:...``).
"""

from __future__ import annotations

import reprlib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ValidationError

from handmap.mappings.keys import suggest

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class SourceError:
    """One problem in a file, where it is and what to change."""

    file: str
    line: int  # 1-based
    column: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class SourceErrors(Exception):
    """Raised when a file has problems; ``errors`` lists them all."""

    def __init__(self, errors: Sequence[SourceError]):
        self.errors = tuple(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True)
class Pos:
    """Where a value (and, for a mapping entry, its key) starts; 1-based."""

    line: int
    column: int
    key_line: int
    key_column: int


class Positioned(Protocol):
    """Data with a position for each path in it (a :class:`LoadedYaml`, or profiles merged
    from several files): what turning validation errors into positioned ones needs."""

    @property
    def data(self) -> Any: ...

    def error(self, path: Path_, message: str, at_key: bool = False) -> SourceError: ...


@dataclass(frozen=True)
class LoadedYaml:
    """A YAML document's plain data and the position of every value in it, by path."""

    file: str
    data: Any
    positions: dict  # path tuple -> Pos (read-only by convention)

    def pos(self, path: Path_) -> Pos:
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, Pos(1, 1, 1, 1))

    def error(self, path: Path_, message: str, at_key: bool = False) -> SourceError:
        p = self.pos(path)
        if at_key:
            return SourceError(self.file, p.key_line, p.key_column, message)
        return SourceError(self.file, p.line, p.column, message)


def _mark_error(file: str, exc: yaml.YAMLError, text: str = "") -> SourceError:
    if isinstance(exc, yaml.reader.ReaderError):  # a control character (NUL...): say where
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return SourceError(file, line, column,
                           f"not valid YAML: control character #x{exc.character:04x} is not allowed in YAML")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    msg = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    if mark is None:
        return SourceError(file, 1, 1, msg)
    return SourceError(file, mark.line + 1, mark.column + 1, msg)


#: Limits on any YAML document read here (profiles; the daemon config uses them too).
MAX_DEPTH = 64  # nested mappings/lists, aliases expanded
MAX_VALUES = 50_000  # values in the document once every alias is expanded
_PLAIN_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_SHOWN_CHARS = 60
_MAX_SHOWN = 80  # characters of a bad value or key quoted in a message


def shown(value: Any) -> str:
    """A value for a one-line message: short and escaped, however big or nested (reprlib
    stops at a few levels and items, so even an alias bomb's value prints at once)."""
    shorter = reprlib.Repr()
    shorter.maxstring = shorter.maxother = _SHOWN_CHARS
    shorter.maxlevel, shorter.maxdict, shorter.maxlist = 2, 3, 4
    text = shorter.repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def key_text(key: Any) -> str:
    """A key or key path for a one-line message: control characters escaped, shortened."""
    text = str(key)
    text = text if text.isprintable() else repr(text)[1:-1]
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with the scalars it cannot build reported where they are.

    The safe constructor raises plain Python errors for some scalars (``!!int ''``,
    ``!!bool maybe``, a date like ``2024-13-45``, an integer of 5000 digits); here they
    become YAML errors with the value's line and column.
    """

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError) as exc:
            kind = str(node.tag).rsplit(":", 1)[-1]
            value = repr(node.value) if isinstance(node.value, str) else kind
            if len(value) > _SHOWN_CHARS:
                value = value[: _SHOWN_CHARS - 3] + "..."
            detail = f": {exc}" if isinstance(exc, ValueError) and str(exc) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"{value} is not a valid {kind}{detail}", node.start_mark) from None


def limit_error(text: str) -> tuple[int, int, str] | None:
    """``(line, column, message)`` (1-based) when the YAML ``text`` is nested deeper than
    :data:`MAX_DEPTH`, holds more than :data:`MAX_VALUES` values once its aliases are
    expanded, or puts an explicit tag on a mapping or list; None when it is fine.
    Raises ``yaml.YAMLError`` for text that is not YAML.

    PyYAML's parser is a state machine (no recursion), so the event stream is walked
    with counters, before the composer and constructor (which recurse, and share aliased
    nodes that later code would walk once per reference) ever see the document. Each
    anchor's expanded size and height are remembered, so a chain of aliases is measured
    exactly in one linear pass.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, height) once expanded
    open_nodes: list[list] = []  # [anchor, values before it, its depth, deepest depth inside]
    values = 0
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)):
            mark = event.start_mark
            if isinstance(event, yaml.AliasEvent):
                size, height = anchors.get(event.anchor, (1, 0))  # an unknown alias: the composer says so
            else:
                size, height = 1, int(isinstance(event, yaml.CollectionStartEvent))
            values += size
            reached = depth + height
            if open_nodes:
                open_nodes[-1][3] = max(open_nodes[-1][3], reached)
            if reached > MAX_DEPTH:
                return (mark.line + 1, mark.column + 1,
                        f"nested too deeply (more than {MAX_DEPTH} levels, aliases included)")
            if values > MAX_VALUES:
                return (mark.line + 1, mark.column + 1,
                        f"too many values (more than {MAX_VALUES} once aliases are expanded); is this a YAML bomb?")
            if isinstance(event, yaml.CollectionStartEvent):
                if event.tag is not None and event.tag not in _PLAIN_COLLECTION_TAGS and event.tag != "!":
                    return (mark.line + 1, mark.column + 1,
                            f"tag {event.tag!r} is not allowed here (only plain mappings and lists)")
                depth += 1
                open_nodes.append([event.anchor, values - 1, depth, depth])
            elif isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
                anchors[event.anchor] = (1, 0)
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, before, own_depth, deepest = open_nodes.pop()
            depth -= 1
            if open_nodes:
                open_nodes[-1][3] = max(open_nodes[-1][3], deepest)
            if anchor is not None:
                anchors[anchor] = (values - before, deepest - own_depth + 1)
    return None


def load_yaml(text: str, file: str, *, last_duplicate_wins: bool = False) -> LoadedYaml:
    """Parse one YAML document safely; raise :class:`SourceErrors` on bad YAML.

    Duplicate keys in a mapping are reported (plain ``safe_load`` keeps the last one),
    unless ``last_duplicate_wins`` (the daemon config's rule: the last one is kept).
    An empty document loads as ``None``.
    """
    loader = None
    try:
        limit = limit_error(text)
        if limit is not None:
            raise SourceErrors([SourceError(file, *limit)])
        loader = SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return LoadedYaml(file, None, {(): Pos(1, 1, 1, 1)})
        positions: dict = {}
        errors: list[SourceError] = []
        root_pos = Pos(node.start_mark.line + 1, node.start_mark.column + 1,
                       node.start_mark.line + 1, node.start_mark.column + 1)
        data = _build(loader, node, (), root_pos, positions, errors, file, 0, last_duplicate_wins)
    except yaml.YAMLError as exc:
        raise SourceErrors([_mark_error(file, exc, text)]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if errors:
        raise SourceErrors(errors)
    return LoadedYaml(file, data, positions)


_MAX_DEPTH = 64


def _build(loader: SafeLoader, node: yaml.Node, path: Path_, pos: Pos, positions: dict, errors: list[SourceError],
           file: str, depth: int, last_duplicate_wins: bool) -> Any:
    positions[path] = pos
    if depth > _MAX_DEPTH:
        errors.append(SourceError(file, pos.line, pos.column, "YAML nested too deeply"))
        return None
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, typing.Hashable):
                errors.append(SourceError(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                          "a mapping key must be a plain name"))
                continue
            if key in out and not last_duplicate_wins:
                errors.append(SourceError(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                          f"duplicate key '{key}'; each key may appear once in a mapping"))
                continue
            vpos = Pos(value_node.start_mark.line + 1, value_node.start_mark.column + 1,
                       key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _build(loader, value_node, path + (key,), vpos, positions, errors, file, depth + 1,
                              last_duplicate_wins)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            ipos = Pos(item.start_mark.line + 1, item.start_mark.column + 1,
                       item.start_mark.line + 1, item.start_mark.column + 1)
            items.append(_build(loader, item, path + (i,), ipos, positions, errors, file, depth + 1,
                                last_duplicate_wins))
        return items
    return loader.construct_object(node, deep=True)


# ---------------------------------------------------------------------------------
# Pydantic errors to positioned messages
# ---------------------------------------------------------------------------------


def resolve_loc(data: Any, loc: Iterable[Any]) -> Path_:
    """The path into ``data`` that ``loc`` names, skipping what is not in the data
    (union tags, wrapper indexes): the one matching most elements, then the one
    reaching furthest into ``loc``."""
    loc = tuple(loc)

    def best(cur: Any, i: int) -> tuple[int, int, Path_]:
        if i == len(loc):
            return (0, -1, ())
        el = loc[i]
        n, last, path = best(cur, i + 1)  # skip this element
        options = [(n, last, path)]
        child = _MISSING
        if isinstance(cur, dict) and _hashable(el) and el in cur:
            child = cur[el]
        elif isinstance(cur, list) and isinstance(el, int) and 0 <= el < len(cur):
            child = cur[el]
        if child is not _MISSING:
            n2, last2, path2 = best(child, i + 1)
            options.append((n2 + 1, max(last2, i), (el,) + path2))
        return max(options, key=lambda o: (o[0], o[1]))

    return best(data, 0)[2]


_MISSING = object()


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def wrap_in_list(loaded: LoadedYaml, path: Path_) -> None:
    """Where ``path`` holds a single value that a validator wraps into a list, make the
    data and positions say ``[value]`` so error locations line up. Edits in place."""
    parent = loaded.data
    for el in path[:-1]:
        parent = parent[el]
    key = path[-1]
    if isinstance(parent[key], list) or parent[key] is None:
        return
    parent[key] = [parent[key]]
    n = len(path)
    moved = {p: pos for p, pos in loaded.positions.items() if p[:n] == path and len(p) > n}
    for p in moved:
        del loaded.positions[p]
    item = loaded.positions[path]
    loaded.positions[path + (0,)] = Pos(item.line, item.column, item.line, item.column)
    for p, pos in moved.items():
        loaded.positions[path + (0,) + p[n:]] = pos


def dotted(path: Path_, root: str = "profile") -> str:
    """``('bindings', 2, 'do')`` -> ``bindings[2].do``; the empty path -> ``root``."""
    out = ""
    for el in path:
        if isinstance(el, int):
            out += f"[{el}]"
        else:
            out += ("." if out else "") + str(el)
    return key_text(out) if out else root


def _unwrap(tp: Any) -> list:
    """The concrete types an annotation may hold (Optional, Union, Annotated undone)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin is typing.Union or origin is types.UnionType:
        out = []
        for a in typing.get_args(tp):
            out.extend(_unwrap(a))
        return out
    return [tp]


def _tags(tp: Any) -> dict:
    """For a tagged union ``Annotated[Union[Annotated[M, Tag('x')], ...], Discriminator]``."""
    from pydantic import Tag

    out = {}
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _tags(typing.get_args(tp)[0])
    if origin is typing.Union or origin is types.UnionType:
        for a in typing.get_args(tp):
            if typing.get_origin(a) is typing.Annotated:
                args = typing.get_args(a)
                for meta in args[1:]:
                    if isinstance(meta, Tag):
                        out[meta.tag] = args[0]
            out.update(_tags(a) if typing.get_origin(a) is not typing.Annotated else {})
    return out


def model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model class validating the value at ``loc`` (None if unknown)."""
    candidates = [model]
    for el in loc:
        nxt = []
        for tp in candidates:
            tags = _tags(tp)
            if isinstance(el, str) and el in tags:
                nxt.append(tags[el])
                continue
            for t in _unwrap(tp):
                origin = typing.get_origin(t)
                if isinstance(t, type) and issubclass(t, BaseModel):
                    for name, f in t.model_fields.items():
                        if el in (name, f.alias):
                            nxt.append(f.annotation)
                elif origin in (list, tuple, Sequence) and isinstance(el, int):
                    args = typing.get_args(t)
                    if args:
                        nxt.append(args[0])
                elif origin in (dict, typing.Mapping) or t is dict:
                    args = typing.get_args(t)
                    if len(args) == 2:
                        nxt.append(args[1])
        candidates = nxt
        if not candidates:
            return None
    for tp in candidates:
        for t in _unwrap(tp):
            if isinstance(t, type) and issubclass(t, BaseModel):
                return t
    return None


def field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _describe_input(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    if value is None:
        return "nothing"
    return shown(value)


def format_error(err: Mapping[str, Any], loaded: Positioned, model: type[BaseModel], root: str) -> SourceError:
    """One pydantic error dict as a positioned, readable message."""
    loc = tuple(err.get("loc", ()))
    etype = err.get("type", "")
    path = resolve_loc(loaded.data, loc)
    where = dotted(path, root)
    if etype == "extra_forbidden":
        key = loc[-1] if loc else "?"
        parent = model_at(model, loc[:-1])
        hint = suggest(key, field_names(parent)) if parent else ""
        parent_where = dotted(path[:-1], root)
        return loaded.error(path, f"unknown key '{key_text(key)}' in {parent_where}{hint}", at_key=True)
    if etype == "missing":
        key = loc[-1] if loc else "?"
        return loaded.error(path, f"missing key '{key}' in {where}", at_key=False)
    msg = err.get("msg", "invalid value")
    if etype in ("value_error", "assertion_error") and msg.startswith(("Value error, ", "Assertion failed, ")):
        msg = msg.split(", ", 1)[1]
    if etype == "literal_error" or etype == "enum":
        expected = str((err.get("ctx") or {}).get("expected", ""))
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]
        got = err.get("input")
        msg = f"unknown value {shown(got)}; expected {expected}" + suggest(str(got), choices)
        return loaded.error(path, f"{where}: {msg}")
    if etype.endswith("_type") or etype.endswith("_parsing") or etype in ("model_attributes_type", "dict_type"):
        msg = f"{msg[0].lower()}{msg[1:]} (got {_describe_input(err.get('input'))})"
    return loaded.error(path, f"{where}: {msg}")


def parse_model(text: str, file: str, model: type[BaseModel], root: str = "document") -> BaseModel:
    """Load YAML ``text`` and validate it as ``model``; raise :class:`SourceErrors`
    (every problem, positioned) when it is broken. An empty document validates as ``{}``."""
    loaded = load_yaml(text, file)
    data = {} if loaded.data is None else loaded.data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SourceErrors(errors_from_validation(exc, LoadedYaml(file, data, loaded.positions), model, root)) from None


def errors_from_validation(exc: ValidationError, loaded: Positioned, model: type[BaseModel],
                           root: str = "document") -> list[SourceError]:
    """Every error in ``exc``, positioned in ``loaded`` and sorted by line and column."""
    out = [format_error(e, loaded, model, root) for e in exc.errors(include_url=False)]
    seen = set()
    unique = []
    for e in sorted(out, key=lambda e: (e.line, e.column)):
        if (e.line, e.column, e.message) not in seen:
            seen.add((e.line, e.column, e.message))
            unique.append(e)
    return unique
