"""Where things are in a TOML file: the line of a key, for error messages people can act on.

`tomllib` parses but forgets positions; the settings loader and the catalog importer both
need to say "line 12: ..." about a value that parsed but is wrong. This finds the line
again from the text.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable


def syntax_error_line(exc: tomllib.TOMLDecodeError) -> tuple[int, str]:
    """The line (0 if unknown) and a message without the position for a TOML syntax error."""
    line = getattr(exc, "lineno", 0) or 0
    message = getattr(exc, "msg", None)
    if not line or message is None:
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else 0
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
    return line, f"not valid TOML: {message}"


_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]\s*(?:#.*)?$")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*\"?([A-Za-z0-9_-]+)\"?\s*=")


class TomlLines:
    """Maps a location in parsed TOML, such as ("item", 3, "materials", 1, "copies"), to the
    1-based line of the text that holds it. Works for files written with one `key = value`
    a line under `[table]` and `[[array]]` headers; where a value is written another way
    (an inline table, say) the line of the nearest enclosing table is given instead, and 0
    when not even that is known."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()

    def locate(self, location: Iterable[str | int]) -> int:
        parts = list(location)
        start, stop, table, best = 0, len(self._lines), "", 0
        position = 0
        while position < len(parts) and isinstance(parts[position], str):
            name = f"{table}.{parts[position]}" if table else str(parts[position])
            following = parts[position + 1] if position + 1 < len(parts) else None
            if isinstance(following, int):
                headers = [n for n in range(start, stop) if self._header(n, _ARRAY_HEADER) == name]
                if headers:
                    if following >= len(headers):
                        return best
                    start, table = headers[following], name
                    stop, best = self._table_end(start, stop, name), start + 1
                    position += 2
                    continue
            elif following is not None:
                tables = [n for n in range(start, stop) if self._header(n, _TABLE_HEADER) == name]
                if tables:
                    start, table = tables[0], name
                    stop, best = self._table_end(start, stop, name), start + 1
                    position += 1
                    continue
            key = str(parts[position])
            return (
                self._key_line(key, start + 1 if table else start, stop)
                or self._header_line(name, start, stop)
                or best
            )
        return best

    def _header(self, number: int, pattern: re.Pattern[str]) -> str | None:
        match = pattern.match(self._lines[number])
        return _plain(match.group(1)) if match else None

    def _header_line(self, name: str, start: int, stop: int) -> int:
        for number in range(start, stop):
            header = self._header(number, _ARRAY_HEADER) or self._header(number, _TABLE_HEADER)
            if header == name:
                return number + 1
        return 0

    def _is_header(self, number: int) -> bool:
        line = self._lines[number]
        return bool(_ARRAY_HEADER.match(line) or _TABLE_HEADER.match(line))

    def _table_end(self, start: int, stop: int, name: str) -> int:
        for number in range(start + 1, stop):
            header = self._header(number, _ARRAY_HEADER) or self._header(number, _TABLE_HEADER)
            if header is not None and not header.startswith(name + "."):
                return number
        return stop

    def _key_line(self, key: str, start: int, stop: int) -> int:
        for number in range(start, stop):
            if self._is_header(number):
                return 0
            match = _KEY.match(self._lines[number])
            if match and match.group(1) == key:
                return number + 1
        return 0


def _plain(name: str) -> str:
    return ".".join(part.strip().strip('"') for part in name.split("."))
