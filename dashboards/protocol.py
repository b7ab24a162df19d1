"""The dashboard's websocket protocol, version 1 (documented in ``docs/protocol.md``).

Pure data: the limits, the client messages (decoded and validated with msgspec) and the
server frames (encoded to JSON bytes). No sockets, no asyncio. Commands are checked and built
in :mod:`dashboards.commands`.

>>> msg = parse_client(b'{"type":"ping","ref":"p1"}')
>>> msg.ref
'p1'
>>> try:
...     parse_client(b'{"type":"pong"}')
... except ProtocolError as exc:
...     print(exc.code, exc.field, exc.reason)
bad_message type unknown message type 'pong' (expected auth, subscribe, command, ping)
>>> try:
...     parse_client(b'{"type":"ping","ref":' + b"[" * 1000 + b"]" * 1000 + b"}")
... except ProtocolError as exc:
...     print(exc.code, exc.reason)
bad_json too deep: JSON nested more than 32 levels
>>> error_frame("rate_limited", "too many messages")
b'{"type":"error","code":"rate_limited","field":null,"reason":"too many messages","ref":null}'
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ioc import catalog
from ioc.errors import ValidationError
from ioc.events import MAX_JSON_DEPTH, SEVERITIES, check_depth

VERSION = 1
ROLES: tuple[str, ...] = ("operator", "supervisor", "leadership", "engineer", "admin")
COMMAND_ROLES = frozenset({"operator", "supervisor"})
WINDOW_ROLES = frozenset({"operator", "supervisor", "engineer", "admin"})

MAX_MESSAGE_BYTES = 65_536       # websockets max_size for client frames (close 1009 beyond)
AUTH_TIMEOUT_S = 10.0            # no valid auth within this: close 1008
HEARTBEAT_S = 15.0               # JSON heartbeat period
PING_INTERVAL_S = 20.0           # websocket ping period / timeout (dead peers: close 1011)
PING_TIMEOUT_S = 20.0
RATE_PER_S = 20.0                # token bucket per connection
RATE_BURST = 40.0
RATE_ABUSE_LIMIT = 50            # messages over the limit before close 1008
QUEUE_FRAMES = 1000              # per-client outgoing queue bound
RESUME_BUFFER = 4096             # deltas kept for resume
LAG_RESYNCS = 3                  # more lagging resyncs than this within LAG_SPAN_S: close 1013
LAG_SPAN_S = 300.0
SUMMARY_EVERY_S = 5.0
COMMAND_TIMEOUT_S = 10.0
MAX_NAME = 64
MAX_REF = 64
MAX_REASON = 500
MAX_TEXT = 2000

CLOSE_POLICY = 1008
CLOSE_TOO_SLOW = 1013
CLOSE_GOING_AWAY = 1001

ErrorCode = Literal["bad_json", "bad_message", "unauthorized", "forbidden", "invalid_command",
                    "unavailable", "rate_limited"]
Kind = Literal["alert", "incident", "indicator", "window", "silence"]


class ProtocolError(Exception):
    """A client message the server refuses: becomes an ``error`` frame."""

    def __init__(self, code: ErrorCode, field: str | None, reason: str,
                 ref: str | None = None) -> None:
        super().__init__(f"{code}: {field}: {reason}" if field else f"{code}: {reason}")
        self.code = code
        self.field = field
        self.reason = reason
        self.ref = ref

    def frame(self) -> bytes:
        """The ``error`` frame for this refusal."""
        return error_frame(self.code, self.reason, field=self.field, ref=self.ref)


# --- client -> server ----------------------------------------------------------------------

class Subscription(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a client wants: ``None`` means all. See section 4 of docs/protocol.md."""

    groups: list[str] | None = None
    districts: list[str] | None = None
    severities: list[str] | None = None
    windows: bool = False
    summary: bool | None = None  # None: the role's default

    def __post_init__(self) -> None:
        _check_names("groups", self.groups, catalog.GROUP_SLUGS)
        _check_names("districts", self.districts, tuple(d.name for d in catalog.DISTRICTS))
        _check_names("severities", self.severities, SEVERITIES)

    def public(self, role: str) -> dict[str, Any]:
        """The subscription as echoed in ``welcome`` (defaults resolved for ``role``)."""
        return {"groups": self.groups, "districts": self.districts,
                "severities": self.severities, "windows": self.windows,
                "summary": self.wants_summary(role)}

    def wants_summary(self, role: str) -> bool:
        """Whether ``summary`` frames go to this client."""
        return self.summary if self.summary is not None else role == "leadership"


def _check_names(field: str, names: list[str] | None, known: tuple[str, ...]) -> None:
    if names is None:
        return
    unknown = [n for n in names if n not in known]
    if unknown:
        raise msgspec.ValidationError(
            f"unknown {field} {unknown!r:.120} (known: {', '.join(known)}) - at `$.{field}`")


class Resume(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a reconnecting client left off."""

    epoch: str
    seq: int


class Auth(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
           tag="auth", tag_field="type"):
    """First message: the role's token, an optional user name, subscription and resume."""

    token: str | None = None
    name: str | None = None
    subscribe: Subscription | None = None
    resume: Resume | None = None


class Subscribe(Subscription, frozen=True, kw_only=True, forbid_unknown_fields=True,
                tag="subscribe", tag_field="type"):
    """Replace the subscription (answered by resync + snapshot)."""

    def subscription(self) -> Subscription:
        """The plain :class:`Subscription` this message asks for."""
        return Subscription(groups=self.groups, districts=self.districts,
                            severities=self.severities, windows=self.windows,
                            summary=self.summary)


class CommandRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
                     tag="command", tag_field="type"):
    """An operator's command, before the server turns it into an ``ioc.events.Command``."""

    action: str
    ref: str | None = None
    alert_id: str | None = None
    reason: str = ""
    text: str | None = None
    matchers: dict[str, str] | None = None
    until: float | None = None
    duration_s: float | None = None
    silence_id: str | None = None
    name: str | None = None  # accepted for old clients, never recorded (not verified)
    label: str | None = None  # ack/resolve: real, false_alarm, sensor_fault or planned


class Ping(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
           tag="ping", tag_field="type"):
    """Application-level ping (answered by ``pong``)."""

    ref: str | None = None


ClientMessage = Auth | Subscribe | CommandRequest | Ping
CLIENT_TYPES = ("auth", "subscribe", "command", "ping")

_client = msgspec.json.Decoder(ClientMessage)
_encoder = msgspec.json.Encoder()


def parse_client(raw: bytes | str) -> ClientMessage:
    """Decode one client frame; raise :class:`ProtocolError` (``bad_json``/``bad_message``)
    naming the field and the reason."""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        check_depth(data, MAX_JSON_DEPTH)
    except ValidationError as exc:
        raise ProtocolError("bad_json", None, exc.reason) from None
    try:
        msg = _client.decode(data)
    except msgspec.ValidationError as exc:
        raise _bad_message(str(exc), data) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError("bad_json", None, f"not valid JSON: {exc}") from None
    except RecursionError:  # defensive: check_depth should have refused it
        raise ProtocolError("bad_json", None,
                            f"too deep: JSON nested more than {MAX_JSON_DEPTH} levels") from None
    _check_lengths(msg)
    return msg


def _ref_of(data: bytes) -> str | None:
    try:
        obj = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    ref = obj.get("ref") if isinstance(obj, dict) else None
    return ref[:MAX_REF] if isinstance(ref, str) else None


def _bad_message(text: str, data: bytes) -> ProtocolError:
    field = "$"
    if " - at `" in text:
        text, _, tail = text.partition(" - at `")
        field = tail.rstrip("`")
    if text.startswith("Expected `object`"):
        return ProtocolError("bad_json", None, "a frame must be one JSON object")
    if ("Invalid value" in text and field == "$.type") or "missing required field `type`" in text:
        try:
            obj = msgspec.json.decode(data)
            kind = obj.get("type") if isinstance(obj, dict) else None
        except msgspec.DecodeError:
            kind = None
        return ProtocolError("bad_message", "type",
                             f"unknown message type {kind!r} (expected "
                             f"{', '.join(CLIENT_TYPES)})", _ref_of(data))
    if text.startswith("Object contains unknown field"):
        name = text.split("`")[1]
        return ProtocolError("bad_message", name.lstrip("$."), "unknown field", _ref_of(data))
    if text.startswith("Object missing required field"):
        name = text.split("`")[1]
        return ProtocolError("bad_message", name, "required field is missing", _ref_of(data))
    return ProtocolError("bad_message", field.removeprefix("$."), text[0].lower() + text[1:],
                         _ref_of(data))


def _check_lengths(msg: ClientMessage) -> None:
    ref = getattr(msg, "ref", None)
    limits: list[tuple[str, Any, int]] = [("ref", ref, MAX_REF)]
    if isinstance(msg, Auth):
        limits.append(("name", msg.name, MAX_NAME))
    if isinstance(msg, CommandRequest):
        limits += [("name", msg.name, MAX_NAME), ("reason", msg.reason, MAX_REASON),
                   ("text", msg.text, MAX_TEXT)]
    for field, value, limit in limits:
        if value is not None and len(value) > limit:
            raise ProtocolError("bad_message", field, f"longer than {limit} characters",
                                ref if isinstance(ref, str) else None)
    name = getattr(msg, "name", None)
    if name is not None and (not name.strip() or not name.isprintable()):
        raise ProtocolError("bad_message", "name", "must be printable and not blank",
                            ref if isinstance(ref, str) else None)


# --- server -> client ----------------------------------------------------------------------

def frame(obj: dict[str, Any]) -> bytes:
    """JSON bytes of one server frame."""
    return _encoder.encode(obj)


def error_frame(code: ErrorCode, reason: str, *, field: str | None = None,
                ref: str | None = None) -> bytes:
    """An ``error`` frame."""
    return frame({"type": "error", "code": code, "field": field, "reason": reason, "ref": ref})


def delta_frame(seq: int, kind: Kind, record: msgspec.Struct) -> bytes:
    """A ``delta`` frame: encoded once, sent as the same bytes to every matching client.

    >>> from ioc.events import GroupIndicator
    >>> gi = GroupIndicator(group="flooding", district="Hai Chau", start=0.0, end=60.0,
    ...                     sources_reporting=1, sources_expected=1, sources_in_breach=0,
    ...                     open_alerts={}, kpis={})
    >>> delta_frame(7, "indicator", gi)[:60]
    b'{"type":"delta","seq":7,"kind":"indicator","data":{"type":"i'
    """
    return b'{"type":"delta","seq":%d,"kind":"%s","data":%s}' % (
        seq, kind.encode(), _encoder.encode(record))


def resync_frame(reason: str) -> bytes:
    """A ``resync`` frame (a snapshot follows)."""
    return frame({"type": "resync", "reason": reason})


def heartbeat_frame(epoch: str, seq: int, ts: float, ready: bool, **extra: Any) -> bytes:
    """A ``heartbeat`` frame (``extra``: additive fields such as ``indicators_age_s``)."""
    return frame({"type": "heartbeat", "epoch": epoch, "seq": seq, "ts": ts, "ready": ready,
                  **extra})


def limits() -> dict[str, Any]:
    """The limits announced in ``welcome``."""
    return {"max_message_bytes": MAX_MESSAGE_BYTES, "rate_per_s": RATE_PER_S,
            "burst": RATE_BURST, "queue_frames": QUEUE_FRAMES, "resume_buffer": RESUME_BUFFER}
