"""Changing a few keys of the user's ``config.yaml`` the way a person would: each value
replaced where it stands (its comment kept), a missing key added under its section, a
missing section added at the end; everything else in the file left as it was."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from handmap.mappings.yamlpos import load_yaml

Key = tuple[str, str]  # (section, key)


class EditRefused(ValueError):
    """The file's shape does not allow this edit (the message says what to do)."""


def scalar(value: Any) -> str:
    """A value as YAML: true/false, numbers as written, text quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _value_end(line: str, start: int) -> int:
    """Where a plain or quoted scalar starting at ``start`` ends (before a comment)."""
    if line[start:start + 1] in ('"', "'"):
        quote = line[start]
        i = start + 1
        while i < len(line):
            if line[i] == "\\" and quote == '"':
                i += 2
                continue
            if line[i] == quote:
                return i + 1
            i += 1
        return len(line)
    comment = line.find(" #", start)
    return (comment if comment >= 0 else len(line.rstrip("\n"))) if line.rstrip("\n") else start


def set_values(text: str, changes: Mapping[Key, Any], file: str = "config.yaml") -> str:
    """``text`` with each ``(section, key)`` set to its value (SourceErrors on a file
    that is not YAML; EditRefused where a section is not a block mapping)."""
    loaded = load_yaml(text, file, last_duplicate_wins=True)
    data = loaded.data if isinstance(loaded.data, dict) else {}
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    inserts: dict[int, list[str]] = {}  # after 1-based line -> new lines
    appended: dict[str, list[str]] = {}
    for (section, key), value in changes.items():
        block = data.get(section)
        if section not in data:
            appended.setdefault(section, []).append(f"  {key}: {scalar(value)}\n")
            continue
        if not isinstance(block, dict):
            raise EditRefused(f"'{section}' in {file} is not a mapping of keys; fix it by hand first")
        section_pos = loaded.positions.get((section,))
        if key in block:
            if isinstance(block[key], (dict, list)):
                raise EditRefused(f"'{section}.{key}' in {file} is not a single value; change it by hand")
            pos = loaded.positions[(section, key)]
            row = lines[pos.line - 1]
            start = pos.column - 1
            end = _value_end(row, start)
            rest = row[end:]
            new = scalar(value)
            if rest.lstrip(" ").startswith("#"):  # the comment stays in its column
                spaces = len(rest) - len(rest.lstrip(" "))
                rest = " " * max(1, end + spaces - start - len(new)) + rest.lstrip(" ")
            lines[pos.line - 1] = row[:start] + new + rest
            continue
        if section_pos is None or section_pos.line == section_pos.key_line:
            raise EditRefused(f"'{section}' in {file} is written on one line ({{...}}); write it as a block to "
                              "change it here, or change it by hand")
        indent = " " * (section_pos.column - 1)
        inserts.setdefault(section_pos.key_line, []).append(f"{indent}{key}: {scalar(value)}\n")
    for after in sorted(inserts, reverse=True):
        lines[after:after] = inserts[after]
    out = "".join(lines)
    for section, entries in appended.items():
        out += ("\n" if out and not out.endswith("\n\n") else "") + f"{section}:\n" + "".join(entries)
    return out


def line_of(text: str, key: Key, file: str = "config.yaml") -> int | None:
    """The line ``(section, key)``'s value is on in ``text`` (None if it is not there)."""
    loaded = load_yaml(text, file, last_duplicate_wins=True)
    pos = loaded.positions.get(key)
    return pos.line if pos is not None else None
