"""Bounds-checked reading of a flatbuffer: the byte layer under :mod:`tinykws.tflite.reader`.

A flatbuffer is a little-endian byte string of tables, vectors and strings
that point at one another with 32-bit offsets:

- the file starts with a uint32 offset to the root table (``Model``) and the
  4-byte identifier ``TFL3``;
- a table starts with an int32 *soffset*; ``table - soffset`` is its vtable:
  uint16 vtable size, uint16 table size, then one uint16 per field slot giving
  the field's offset inside the table (0 = absent, use the default);
- a field holding a table, vector or string stores a uint32 offset relative
  to the field's own position; a vector is a uint32 length then its elements,
  a string the same plus a terminating NUL.

Every offset and length read here is checked against the file size before it
is followed, so a truncated or corrupt file raises :class:`TinyKWSError`
naming the problem instead of reading garbage or crashing. We parse by hand
(not with generated code) precisely to make those checks explicit.
"""

from __future__ import annotations

import struct

import numpy as np

from tinykws.errors import TinyKWSError


class Flatbuffer:
    """Bounds-checked little-endian access to the bytes of one file."""

    def __init__(self, data: bytes, source: str):
        self.data = data
        self.source = source

    def fail(self, what: str) -> TinyKWSError:
        return TinyKWSError(f"{self.source}: not a valid TFLite model: {what}")

    def _check(self, pos: int, size: int, what: str) -> None:
        if pos < 0 or size < 0 or pos + size > len(self.data):
            raise self.fail(f"{what} at byte {pos} (+{size}) lies outside the "
                            f"{len(self.data)}-byte file")

    def scalar(self, fmt: str, pos: int, what: str):
        size = struct.calcsize(fmt)
        self._check(pos, size, what)
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def follow(self, pos: int, what: str) -> int:
        """Position an offset field at ``pos`` points to."""
        return pos + self.scalar("I", pos, what)

    def table(self, pos: int, what: str) -> "Table":
        vtable = pos - self.scalar("i", pos, what)
        vtable_size = self.scalar("H", vtable, f"vtable of {what}")
        if vtable_size < 4 or vtable_size % 2:
            raise self.fail(f"vtable of {what} has bad size {vtable_size}")
        self._check(vtable, vtable_size, f"vtable of {what}")
        table_size = self.scalar("H", vtable + 2, f"vtable of {what}")
        self._check(pos, table_size, what)
        return Table(self, pos, vtable, vtable_size, table_size, what)

    def vector(self, pos: int, elem_size: int, what: str) -> tuple[int, int]:
        """(start of elements, count) of the vector at ``pos``."""
        count = self.scalar("I", pos, f"length of {what}")
        self._check(pos + 4, count * elem_size, what)
        return pos + 4, count


class Table:
    """One table: read fields by slot, with their schema defaults."""

    def __init__(self, fb: Flatbuffer, pos: int, vtable: int, vtable_size: int,
                 table_size: int, what: str):
        self.fb, self.pos, self.vtable = fb, pos, vtable
        self.vtable_size, self.table_size, self.what = vtable_size, table_size, what

    def _field(self, slot: int) -> int | None:
        entry = 4 + 2 * slot
        if entry >= self.vtable_size:
            return None
        offset = self.fb.scalar("H", self.vtable + entry, f"vtable of {self.what}")
        if offset == 0:
            return None
        if offset >= self.table_size:
            raise self.fb.fail(f"field {slot} of {self.what} lies outside its table")
        return self.pos + offset

    def scalar(self, slot: int, fmt: str, default=0):
        pos = self._field(slot)
        return default if pos is None else self.fb.scalar(fmt, pos, f"field {slot} of {self.what}")

    def table(self, slot: int, what: str) -> "Table | None":
        pos = self._field(slot)
        return None if pos is None else self.fb.table(self.fb.follow(pos, what), what)

    def vector(self, slot: int, fmt: str, what: str) -> np.ndarray | None:
        """A vector of scalars as a NumPy array (None when absent)."""
        pos = self._field(slot)
        if pos is None:
            return None
        dtype = np.dtype("<" + fmt)
        start, count = self.fb.vector(self.fb.follow(pos, what), dtype.itemsize, what)
        return np.frombuffer(self.fb.data, dtype, count, start).copy()

    def tables(self, slot: int, what: str) -> list["Table"]:
        pos = self._field(slot)
        if pos is None:
            return []
        start, count = self.fb.vector(self.fb.follow(pos, what), 4, what)
        return [self.fb.table(self.fb.follow(start + 4 * i, f"{what}[{i}]"), f"{what}[{i}]")
                for i in range(count)]

    def string(self, slot: int, what: str) -> str:
        pos = self._field(slot)
        if pos is None:
            return ""
        start, count = self.fb.vector(self.fb.follow(pos, what), 1, what)
        try:
            return self.fb.data[start:start + count].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fb.fail(f"{what} is not UTF-8") from None
