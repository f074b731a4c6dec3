"""TOML reading with file:line locations, so `keywords check` can point the office at a line."""

from __future__ import annotations

import re
import tomllib
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

    def line_of(self, needle: str, section: str | None = None) -> int:
        """1-based line of the first line with `needle` (after `section`'s header); 0 if none."""
        start = 0
        if section is not None:
            for i, line in enumerate(self.lines):
                m = _HEADER.match(line)
                if m and m.group(1).strip() == section:
                    start = i
                    break
        quoted = (f'"{needle}"', f"'{needle}'")
        for i in range(start, len(self.lines)):
            line = self.lines[i]
            if any(q in line for q in quoted) or (section is None and needle in line):
                return i + 1
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
