"""Identifiers that sort by creation time, so a run's rows stay together in files."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7_hex() -> str:
    """A 32-character hex UUIDv7: 48 bits of Unix milliseconds, then randomness.

    Ids created later in one process always sort after earlier ones (a counter
    fills the low bits of ``rand_a`` within one millisecond).
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:
                ms += 1
                _counter = 0
        else:
            _counter = 0
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    return f"{value:032x}"


def experiment_id() -> str:
    """A numeric experiment id (as MLflow's are), increasing with time."""
    ms = time.time_ns() // 1_000_000
    return str(ms * 1000 + int.from_bytes(os.urandom(2), "big") % 1000)


def uuid7_hex_batch(n: int) -> list[str]:
    """``n`` UUIDv7 hex ids in increasing order, made at once (for bulk logging).

    Id ``i`` carries the current millisecond plus ``i // 4096`` and counter
    ``i % 4096``, so the batch sorts in order and after earlier ids of this
    process; the low 62 bits are random.
    """
    import numpy as np

    global _last_ms
    with _lock:
        base = max(time.time_ns() // 1_000_000, _last_ms + 1)
        _last_ms = base + (n - 1) // 4096 + 1
    index = np.arange(n, dtype=np.uint64)
    high = ((np.uint64(base) + index // np.uint64(4096)) << np.uint64(16)) \
        | np.uint64(0x7000) | (index % np.uint64(4096))
    low = np.frombuffer(os.urandom(8 * n), dtype=np.uint64) & np.uint64((1 << 62) - 1) \
        | np.uint64(1 << 63)
    packed = np.empty((n, 2), dtype=">u8")
    packed[:, 0], packed[:, 1] = high, low
    text = packed.tobytes().hex()
    return [text[i:i + 32] for i in range(0, 32 * n, 32)]
