"""Arrow arrays from Python lists without importing pandas.

``pyarrow.array`` asks pandas whether its argument is a pandas object, which imports
pandas the first time (0.3 s of CPU on an idle machine, over a second on a loaded one):
a cost the driver would pay at its first write to the event log, before the first
report. Here the array is assembled from its buffers instead: a validity bitmap,
then the values (fixed width) or the offsets and the UTF-8 bytes (strings).
"""

from __future__ import annotations

import json
from array import array
from itertools import accumulate
from typing import Any, Sequence

import pyarrow as pa

__all__ = ["column", "inferred_column"]

_CODES = {pa.int64(): "q", pa.float64(): "d"}


def _bitmap(flags: Sequence[bool]) -> bytes:
    """Arrow's bit order: value i is bit i % 8 of byte i // 8."""
    out = bytearray((len(flags) + 7) // 8)
    for i, flag in enumerate(flags):
        if flag:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def column(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """``pa.array(values, type_)`` for int64, float64, bool and string; None is null."""
    n = len(values)
    valid = [v is not None for v in values]
    nulls = n - sum(valid)
    if nulls == n:
        return pa.nulls(n, type_)
    bitmap = pa.py_buffer(_bitmap(valid)) if nulls else None
    if type_ == pa.string():
        data = [v.encode() if v is not None else b"" for v in values]
        offsets = array("i", [0])
        offsets.extend(accumulate(len(b) for b in data))
        return pa.Array.from_buffers(type_, n, [bitmap, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))],
                                     null_count=nulls)
    if type_ == pa.bool_():
        data = _bitmap([bool(v) for v in values])
    elif type_ in _CODES:
        data = array(_CODES[type_], [v if v is not None else 0 for v in values])
    else:
        raise TypeError(f"column() builds int64, float64, bool and string arrays, not {type_}")
    return pa.Array.from_buffers(type_, n, [bitmap, pa.py_buffer(data)], null_count=nulls)


def inferred_column(values: Sequence[Any]) -> pa.Array:
    """An array of JSON-decoded values, typed as ``pa.array`` would type them when they share
    a type (ints with floats are floats); otherwise (mixed types, lists, objects, ints beyond
    int64, or beyond 2**53 among floats) their JSON text, so that one odd value never loses a column. All None: strings."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.nulls(len(values), pa.string())
    if kinds == {bool}:
        return column(values, pa.bool_())
    if kinds == {str}:
        return column(values, pa.string())
    if kinds <= {int, float}:
        if kinds == {int}:
            if all(-(1 << 63) <= v < (1 << 63) for v in values if v is not None):
                return column(values, pa.int64())
        elif all(abs(v) <= (1 << 53) for v in values if type(v) is int):  # exact as doubles
            return column([None if v is None else float(v) for v in values], pa.float64())
    return column([None if v is None else json.dumps(v, allow_nan=True) for v in values], pa.string())
