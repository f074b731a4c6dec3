"""TOML reading with file:line locations, so `keywords check` can point the office at a line."""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

_HEADER = re.compile(r"^\s*\[{1,2}\s*\"?([^\]\"]+)\"?\s*\]{1,2}")


class DataError(Exception):
    """One or more problems in the data files; each message names file and line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class TomlFile:
    """A parsed TOML file that remembers its lines for error messages."""

    def __init__(self, path: Path):
        self.path = path
        text = path.read_text(encoding="utf-8")
        self.lines = text.splitlines()
        try:
            self.data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DataError([f"{path}: {exc}"]) from exc
        self._text = "\n".join(self.lines)
        self._line_starts: list[int] = []
        self._sections: dict[str, int] = {}
        offset = 0
        for i, line in enumerate(self.lines):
            self._line_starts.append(offset)
            offset += len(line) + 1
            if (m := _HEADER.match(line)) and m.group(1).strip() not in self._sections:
                self._sections[m.group(1).strip()] = i

    def line_of(self, needle: str, section: str | None = None) -> int:
        """1-based line of the first line with `needle` (after `section`'s header); 0 if none.

        Every keyword's location is looked up at load, so this searches the whole text with
        str.find from the section's offset rather than walking the lines each time.
        """
        start = self._sections.get(section, 0) if section is not None else 0
        if "\n" in needle:
            return start + 1 if section is not None else 0
        begin = self._line_starts[start] if self.lines else 0
        wanted = [f'"{needle}"', f"'{needle}'"] if section is not None else [needle]
        found = [at for w in wanted if (at := self._text.find(w, begin)) >= 0]
        if section is not None:  # a bare key at the start of a line: `weak_bonus = 0.1`
            bare = (f"\n{needle} =", f"\n{needle}=")
            found += [at + 1 for w in bare if (at := self._text.find(w, max(begin - 1, 0))) >= 0]
        if found:
            return bisect_right(self._line_starts, min(found))
        return start + 1 if section is not None else 0

    def where(self, needle: str, section: str | None = None) -> str:
        """`file:line` for messages."""
        return f"{self.path}:{self.line_of(needle, section)}"


def file_stamp(path: Path) -> tuple[int, int, int]:
    """What changes when a file is edited or replaced: (inode, size, mtime in ns)."""
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def resolve_dir(data_dir: str | Path | None) -> Path:
    """The data directory to use: the given one or the packaged keywords/data."""
    return Path(data_dir) if data_dir is not None else DATA_DIR
