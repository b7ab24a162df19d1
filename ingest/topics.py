"""MQTT topic filters with named captures: ``danang/flood/{district}/{source}``.

A pattern is an MQTT topic filter whose levels may be ``{name}`` (one level, captured: the
``+`` wildcard with a name), ``+`` (one level, not captured), a trailing ``#`` (any number of
levels, not captured) or a trailing ``{name...}`` (the rest of the topic, captured). Pure.

>>> p = TopicPattern.parse("danang/flood/{district}/{source}")
>>> p.subscription
'danang/flood/+/+'
>>> p.match("danang/flood/hai-chau/tower-7")
{'district': 'hai-chau', 'source': 'tower-7'}
>>> p.match("danang/flood/hai-chau") is None
True
>>> TopicPattern.parse("city/#").match("city/a/b"), TopicPattern.parse("x/{rest...}").match("x/a/b")
({}, {'rest': 'a/b'})
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ioc.errors import ConfigError

_NAME = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}")
_PLUS, _HASH = "+", "#"


@dataclass(frozen=True)
class TopicPattern:
    """A parsed pattern: its levels (a name, ``+``, ``#`` or a literal) and what to subscribe to.

    ``levels`` holds ``("lit", text)``, ``("one", name)``, ``("rest", name)``; a name may be
    empty (an unnamed ``+`` or ``#``)."""

    text: str
    levels: tuple[tuple[str, str], ...]
    subscription: str

    @classmethod
    def parse(cls, text: str) -> TopicPattern:
        """Parse ``text``; ConfigError naming the level that is wrong."""
        if not text or len(text) > 1024 or "\x00" in text:
            raise ConfigError(f"topic {text[:60]!r}: must be 1-1024 characters without NUL")
        parts = text.split("/")
        levels: list[tuple[str, str]] = []
        names: set[str] = set()
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            m = _NAME.fullmatch(part)
            if part == _PLUS or (m and not m.group(2)):
                levels.append(("one", m.group(1) if m else ""))
            elif part == _HASH or (m and m.group(2)):
                if not last:
                    raise ConfigError(f"topic {text!r}: {part!r} may only be the last level")
                levels.append(("rest", m.group(1) if m else ""))
            elif any(c in part for c in "+#{}"):
                raise ConfigError(f"topic {text!r}: level {part!r} mixes a wildcard or "
                                  "capture with text (a level is all one or the other)")
            else:
                levels.append(("lit", part))
            name = levels[-1][1] if levels[-1][0] != "lit" else ""
            if name:
                if name in names:
                    raise ConfigError(f"topic {text!r}: capture {{{name}}} appears twice")
                names.add(name)
        sub = "/".join(p if k == "lit" else (_PLUS if k == "one" else _HASH)
                       for k, p in levels)
        return cls(text, tuple(levels), sub)

    @property
    def names(self) -> tuple[str, ...]:
        """The capture names, in order."""
        return tuple(n for k, n in self.levels if k != "lit" and n)

    def match(self, topic: str) -> dict[str, str] | None:
        """The captures of ``topic``, or None when it does not match."""
        parts = topic.split("/")
        got: dict[str, str] = {}
        for i, (kind, name) in enumerate(self.levels):
            if kind == "rest":
                if name:
                    got[name] = "/".join(parts[i:])
                return got
            if i >= len(parts):
                return None
            if kind == "lit":
                if parts[i] != name:
                    return None
            elif name:
                got[name] = parts[i]
        return got if len(parts) == len(self.levels) else None
