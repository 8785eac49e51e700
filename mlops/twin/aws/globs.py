"""Glob patterns as CodePipeline trigger filters and CodeBuild artifact `files` read them
(CodePipeline user guide, "Working with glob patterns in syntax"; CodeBuild's "Build
specification reference", artifacts/files):

  *       zero or more characters of a name, within one directory level
  **      zero or more characters crossing directory boundaries; `**/` also matches no
          directory at all, so `**/*` is every file and `**/README.md` includes ./README.md
  ?       one character of a name
  [abc] [a-z] [!a-c]   one character out of (or, with !, not in) a set
  {a,b}   any of the comma-separated sub-patterns (groups do not nest)
  \\x      the character x itself
"""

from __future__ import annotations

import re
from functools import lru_cache


class GlobError(ValueError):
    """The pattern is not a valid glob."""


def glob_match(pattern: str, path: str) -> bool:
    return compile_glob(pattern).fullmatch(path) is not None


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(_translate(pattern))


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, in_group = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern):
                raise GlobError(f"{pattern!r}: dangling escape")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            if pattern.startswith("**", i):
                if pattern.startswith("**/", i):
                    out.append("(?:.*/)?")
                    i += 3
                else:
                    out.append(".*")
                    i += 2
            else:
                out.append("[^/]*")
                i += 1
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                raise GlobError(f"{pattern!r}: unclosed [")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            escaped = "".join("\\" + c if c in "\\^]" else c for c in body)
            out.append(f"[{'^/' if negate else ''}{escaped}]")
            i = end + 1
            continue
        elif char == "{":
            if in_group:
                raise GlobError(f"{pattern!r}: groups cannot be nested")
            in_group = True
            out.append("(?:")
        elif char == "}" and in_group:
            in_group = False
            out.append(")")
        elif char == "," and in_group:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    if in_group:
        raise GlobError(f"{pattern!r}: unclosed {{")
    return "".join(out)
