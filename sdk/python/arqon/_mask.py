"""Faster WebSocket masking for ``websockets`` without its C speedups.

Every frame a client sends is masked (RFC 6455 §5.3: XOR with a random 4-byte key). Debian's
``python3-websockets`` ships without the compiled ``speedups`` module, and its fallback
converts the whole message to a big integer and back: measured here at about a fifth of
the SDK's CPU when publishing 1 KB pulses. Masking each of the four byte lanes with
``bytes.translate`` (a C loop over a 256-byte XOR table) does the same work 2.5-3.5x
faster. The key stays random: only the XOR is done differently.
"""

from __future__ import annotations

import websockets.frames
import websockets.utils

_XOR = [bytes(b ^ k for b in range(256)) for k in range(256)]
_slow_mask = websockets.utils.apply_mask


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """``data`` XOR the repeated 4-byte ``mask`` (same result as websockets' own)."""
    n = len(data)
    if n < 64:
        return _slow_mask(data, mask)
    out = bytearray(n)
    out[0::4] = data[0::4].translate(_XOR[mask[0]])
    out[1::4] = data[1::4].translate(_XOR[mask[1]])
    out[2::4] = data[2::4].translate(_XOR[mask[2]])
    out[3::4] = data[3::4].translate(_XOR[mask[3]])
    return out  # type: ignore[return-value]  # websockets writes it as bytes-like


def install() -> bool:
    """Uses ``apply_mask`` in ``websockets`` unless its C speedups are present; returns
    whether it did."""
    if websockets.frames.apply_mask is not _slow_mask:
        return False  # the compiled speedups are in use: faster still
    websockets.frames.apply_mask = apply_mask  # type: ignore[assignment]
    return True
