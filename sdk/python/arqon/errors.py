"""Typed errors: every refusal of the node becomes a Python exception with ``code`` and
``message``, one subclass per error code a caller is likely to catch.

>>> try:
...     await bus.request("jobs.run", b"{}", timeout=1)
... except arqon.NoResponders as e:
...     print(e.code, e.message)
"""

from __future__ import annotations

# The wire's ErrorCode enum by number, as short names (the .proto's names without the
# `ERROR_CODE_` prefix). Read from the generated module so it never drifts from the schema.
from ._wire import pb

CODE_NAMES: dict[int, str] = {
    v.number: v.name[len("ERROR_CODE_"):]
    for v in pb.DESCRIPTOR.enum_types_by_name["ErrorCode"].values
}


class ArqonError(Exception):
    """An error reported by the node (or the SDK) with a wire error ``code`` such as
    ``"UNAUTHORIZED"`` and a human ``message``."""

    #: The code this class stands for (``None`` on the base class: any code).
    CODE: str | None = None

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class ConnectionLost(ArqonError):
    """The connection closed before the node answered (the call may or may not have taken
    effect). A ``Bus`` with reconnect on keeps running; retry the call."""

    def __init__(self, message: str = "connection lost") -> None:
        super().__init__("CONNECTION_LOST", message)


def _code_class(name: str, code: str, doc: str) -> type[ArqonError]:
    return type(name, (ArqonError,), {"CODE": code, "__doc__": doc})


InvalidFrame = _code_class("InvalidFrame", "INVALID_FRAME", "The frame is not valid.")
InvalidTopic = _code_class("InvalidTopic", "INVALID_TOPIC", "The topic is not valid.")
InvalidPattern = _code_class("InvalidPattern", "INVALID_PATTERN", "The pattern is not valid.")
FrameTooLarge = _code_class("FrameTooLarge", "FRAME_TOO_LARGE", "The frame is over the limit.")
TooManySubscriptions = _code_class(
    "TooManySubscriptions", "TOO_MANY_SUBSCRIPTIONS", "Subscriptions per connection exceeded."
)
SlowConsumer = _code_class("SlowConsumer", "SLOW_CONSUMER", "Deliveries were dropped.")
NoResponders = _code_class("NoResponders", "NO_RESPONDERS", "Nobody listens on the topic.")
RequestTimeout = _code_class("RequestTimeout", "TIMEOUT", "No reply within the timeout.")
Unauthorized = _code_class("Unauthorized", "UNAUTHORIZED", "Authentication failed.")
Forbidden = _code_class("Forbidden", "FORBIDDEN", "The grants do not allow it.")
RateLimited = _code_class("RateLimited", "RATE_LIMITED", "Over a rate limit.")
PolicyDenied = _code_class("PolicyDenied", "POLICY_DENIED", "A CASIL policy denied the pulse.")
NotFound = _code_class("NotFound", "NOT_FOUND", "No such thing.")
InvalidArgument = _code_class("InvalidArgument", "INVALID_ARGUMENT", "A bad argument.")
StorageFailed = _code_class("StorageFailed", "STORAGE_FAILED", "The durable log failed.")
QuotaExceeded = _code_class("QuotaExceeded", "QUOTA_EXCEEDED", "A quota was exceeded.")
ProtocolViolation = _code_class(
    "ProtocolViolation", "PROTOCOL_VIOLATION", "A frame out of place in the session."
)
SchemaViolation = _code_class(
    "SchemaViolation", "SCHEMA_VIOLATION", "The payload violates the producer's card schema."
)

_BY_CODE: dict[str, type[ArqonError]] = {
    c.CODE: c  # type: ignore[misc]
    for c in (
        InvalidFrame, InvalidTopic, InvalidPattern, FrameTooLarge, TooManySubscriptions,
        SlowConsumer, NoResponders, RequestTimeout, Unauthorized, Forbidden, RateLimited,
        PolicyDenied, NotFound, InvalidArgument, StorageFailed, QuotaExceeded, ProtocolViolation,
        SchemaViolation,
    )
}


def error_of(code: int | str, message: str = "") -> ArqonError:
    """The exception for a wire error code (number or short name)."""
    name = CODE_NAMES.get(code, f"UNKNOWN_{code}") if isinstance(code, int) else code
    cls = _BY_CODE.get(name, ArqonError)
    return cls(name, message) if cls is ArqonError else cls(name, message)


__all__ = ["ArqonError", "ConnectionLost", "error_of", *[c.__name__ for c in _BY_CODE.values()]]
