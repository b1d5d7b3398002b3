"""A numba scanner for flat JSON records: key, time and value columns of a
whole batch in one pass over its bytes, without a Python object per record.

It accepts a strict subset of JSON whose meaning is unambiguous — one flat
object per record; names and strings of printable ASCII without escapes;
numbers as JSON writes them (those with at most 15 significant digits and
a power of ten within ±22 are converted here, ``mantissa × 10^e`` rounding
once; other decimals from their text by Python's correctly rounded
``float``, in one pass per batch; integers of more than 15 digits are left
to the decoder); ``true``/``false``/``null`` only in fields that are not read;
each field read appears once. Anything else (escapes, non-ASCII, nested
values, long integers, a missing or repeated field, a string where a number
belongs, bad JSON) leaves the row unaccepted, and the caller decodes it with
orjson and validates it record by record. An accepted row therefore holds
exactly what orjson would have decoded: integers are converted as
``float(int)`` (``-0`` is ``0.0``), decimals as correctly rounded doubles.

The key's CRC-32 (``zlib.crc32`` of its bytes) is computed on the way, for
the shard split.

>>> import numpy as np
>>> buf = np.frombuffer(b'{"key":"a","ts":"t1","v":-1.5e1}{"key":"a","v":1}', np.uint8)
>>> names, offs = field_table(("key", "ts", "v"))
>>> out = scan(buf, np.array([0, 32]), np.array([32, 49]), names, offs, 1000, True)
>>> out.ok.tolist(), out.values[0, 1:].tolist()  # the second record lacks "ts"
([True, False], [-15.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

#: exact powers of ten as doubles (10^0 .. 10^22)
_POW10 = np.array([10.0**k for k in range(23)])
_MAX_MANTISSA = 10**15


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else c >> 1
        table[n] = c
    return table


_CRC = _crc_table()

#: the bytes the scanner reads, by name (numba folds these globals as constants)
_BACKSLASH = ord('\\')
_COLON = ord(':')
_COMMA = ord(',')
_CR = ord('\r')
_DIGIT0 = ord('0')
_DIGIT9 = ord('9')
_DOT = ord('.')
_LBRACE = ord('{')
_LF = ord('\n')
_LOWER_A = ord('a')
_LOWER_E = ord('e')
_LOWER_F = ord('f')
_LOWER_L = ord('l')
_LOWER_N = ord('n')
_LOWER_R = ord('r')
_LOWER_S = ord('s')
_LOWER_T = ord('t')
_LOWER_U = ord('u')
_MINUS = ord('-')
_PLUS = ord('+')
_QUOTE = ord('"')
_RBRACE = ord('}')
_SPACE = ord(' ')
_TAB = ord('\t')
_UPPER_E = ord('E')

@njit(cache=True, nogil=True)
def _scan_row(buf: np.ndarray, s: int, e: int, names: np.ndarray, offs: np.ndarray,
              ts_string: bool, pow10: np.ndarray, i: int, spans: np.ndarray, values: np.ndarray,
              inexact: np.ndarray) -> bool:
    """Scan record ``i`` (``buf[s:e]``); True when accepted. Fills
    ``spans[i]`` (key start/end, time start/end) and ``values[i]`` (time
    number first when the time is numeric, then the value fields); a number
    to convert from its text is NaN in ``values`` with its start and end in
    ``inexact[i, field]``."""
    n_roles = offs.shape[0] - 1
    p = s
    while p < e and (buf[p] == _SPACE or buf[p] == _TAB or buf[p] == _LF or buf[p] == _CR):
        p += 1
    if p >= e or buf[p] != _LBRACE:
        return False
    p += 1
    while p < e and (buf[p] == _SPACE or buf[p] == _TAB or buf[p] == _LF or buf[p] == _CR):
        p += 1
    seen = np.int64(0)
    if p < e and buf[p] == _RBRACE:
        return False  # {} lacks the key
    while True:
        if p >= e or buf[p] != _QUOTE:
            return False
        q = p + 1
        while q < e and 32 <= buf[q] < 128 and buf[q] != _QUOTE and buf[q] != _BACKSLASH:
            q += 1
        if q >= e or buf[q] != _QUOTE:
            return False
        role = -1  # which field read this name is (inline: calls that take arrays are slow)
        ln = q - p - 1
        for r in range(n_roles):
            a = offs[r]
            if offs[r + 1] - a == ln:
                k = 0
                while k < ln and buf[p + 1 + k] == names[a + k]:
                    k += 1
                if k == ln:
                    role = r
                    break
        p = q + 1
        while p < e and (buf[p] == _SPACE or buf[p] == _TAB or buf[p] == _LF or buf[p] == _CR):
            p += 1
        if p >= e or buf[p] != _COLON:
            return False
        p += 1
        while p < e and (buf[p] == _SPACE or buf[p] == _TAB or buf[p] == _LF or buf[p] == _CR):
            p += 1
        if p >= e:
            return False
        c = buf[p]
        if c == _QUOTE:
            q = p + 1
            while q < e and 32 <= buf[q] < 128 and buf[q] != _QUOTE and buf[q] != _BACKSLASH:
                q += 1
            if q >= e or buf[q] != _QUOTE:
                return False
            if role == 0:
                if q - (p + 1) < 1 or q - (p + 1) > 256:
                    return False
                spans[i, 0] = p + 1
                spans[i, 1] = q
            elif role == 1:
                if not ts_string:
                    return False
                spans[i, 2] = p + 1
                spans[i, 3] = q
            elif role >= 2:
                return False
            p = q + 1
        elif c == _MINUS or _DIGIT0 <= c <= _DIGIT9:
            # A JSON number, inline (a call per number would cost more than
            # the parse). Up to 15 significant digits and a power of ten
            # within ±22 it is converted here, ``m × 10^e`` rounding once;
            # other decimals are converted from their text afterwards.
            if role == 0 or (role == 1 and ts_string):
                return False
            q = p
            neg = c == _MINUS
            if neg:
                p += 1
                if p >= e:
                    return False
            m = np.int64(0)
            big = False
            d = buf[p]
            if d == _DIGIT0:
                p += 1
            elif 49 <= d <= _DIGIT9:
                while p < e:
                    d = buf[p]
                    if d < _DIGIT0 or d > _DIGIT9:
                        break
                    if m < _MAX_MANTISSA:
                        m = m * 10 + (d - 48)
                    else:
                        big = True
                    p += 1
            else:
                return False
            is_float = False
            e10 = 0
            if p < e and buf[p] == _DOT:
                is_float = True
                p += 1
                if p >= e or not 48 <= buf[p] <= _DIGIT9:
                    return False
                while p < e:
                    d = buf[p]
                    if d < _DIGIT0 or d > _DIGIT9:
                        break
                    if m < _MAX_MANTISSA:
                        m = m * 10 + (d - 48)
                        e10 -= 1
                    else:
                        big = True
                    p += 1
            if p < e and (buf[p] == _LOWER_E or buf[p] == _UPPER_E):
                is_float = True
                p += 1
                eneg = False
                if p < e and (buf[p] == _PLUS or buf[p] == _MINUS):
                    eneg = buf[p] == _MINUS
                    p += 1
                if p >= e or not 48 <= buf[p] <= _DIGIT9:
                    return False
                x = 0
                while p < e and 48 <= buf[p] <= _DIGIT9:
                    if x < 10000:
                        x = x * 10 + (buf[p] - 48)
                    p += 1
                e10 += -x if eneg else x
            if not is_float and (big or m >= _MAX_MANTISSA):
                return False  # a long integer: left to the decoder
            if role >= 1:
                if not is_float:
                    v = float(-m if neg else m)  # float(int); -0 is 0.0
                    values[i, role - 1] = v
                elif big or m >= _MAX_MANTISSA or e10 > 22 or e10 < -22:
                    values[i, role - 1] = np.nan
                    inexact[i, role - 1, 0] = q
                    inexact[i, role - 1, 1] = p
                else:
                    v = float(m) * pow10[e10] if e10 >= 0 else float(m) / pow10[-e10]
                    values[i, role - 1] = -v if neg else v
        # true / false / null, in unread fields only (plain compares: the hot loop stays branch-simple)
        elif c == _LOWER_T or c == _LOWER_F or c == _LOWER_N:  # noqa: SIM109
            if role >= 0:
                return False
            if c == _LOWER_T and p + 4 <= e and buf[p + 1] == _LOWER_R and buf[p + 2] == _LOWER_U \
                    and buf[p + 3] == _LOWER_E:
                p += 4
            elif c == _LOWER_F and p + 5 <= e and buf[p + 1] == _LOWER_A and buf[p + 2] == _LOWER_L \
                    and buf[p + 3] == _LOWER_S and buf[p + 4] == _LOWER_E:
                p += 5
            elif c == _LOWER_N and p + 4 <= e and buf[p + 1] == _LOWER_U and buf[p + 2] == _LOWER_L \
                    and buf[p + 3] == _LOWER_L:
                p += 4
            else:
                return False
        else:
            return False  # nested object or array, or not JSON
        if role >= 0:
            bit = np.int64(1) << role
            if seen & bit:
                return False  # a field read twice: let the decoder decide
            seen |= bit
        while p < e and (buf[p] == _SPACE or buf[p] == _TAB or buf[p] == _LF or buf[p] == _CR):
            p += 1
        if p >= e:
            return False
        if buf[p] == _COMMA:
            p += 1
            while p < e and (buf[p] == _SPACE or buf[p] == _TAB or buf[p] == _LF or buf[p] == _CR):
                p += 1
            continue
        if buf[p] == _RBRACE:
            p += 1
            break
        return False
    while p < e and (buf[p] == _SPACE or buf[p] == _TAB or buf[p] == _LF or buf[p] == _CR):
        p += 1
    if p != e:
        return False
    return bool(seen == (np.int64(1) << n_roles) - 1)


@njit(cache=True, nogil=True)
def _scan(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, names: np.ndarray,
          offs: np.ndarray, limit: int, ts_string: bool, pow10: np.ndarray, crc_table: np.ndarray,
          ok: np.ndarray, spans: np.ndarray, values: np.ndarray, inexact: np.ndarray,
          crc: np.ndarray) -> None:
    for i in range(starts.shape[0]):
        s, e = starts[i], ends[i]
        good = 0 < e - s <= limit and _scan_row(buf, s, e, names, offs, ts_string, pow10, i,
                                                spans, values, inexact)
        ok[i] = good
        if good:
            c = np.uint32(0xFFFFFFFF)
            for k in range(spans[i, 0], spans[i, 1]):
                c = crc_table[(c ^ buf[k]) & 0xFF] ^ (c >> np.uint32(8))
            crc[i] = c ^ np.uint32(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def _gather(buf: np.ndarray, spans: np.ndarray, col: int, rows: np.ndarray,
            dedupe: bool) -> tuple[np.ndarray, np.ndarray]:
    """The strings ``buf[spans[r, col]:spans[r, col + 1]]`` of ``rows``
    joined by newlines, and each row's index into that list; with
    ``dedupe``, a row equal to the previous one reuses its entry."""
    total = 0
    for r in rows:
        total += spans[r, col + 1] - spans[r, col] + 1
    out = np.empty(total, dtype=np.uint8)
    index = np.empty(rows.shape[0], dtype=np.int64)
    p = 0
    entries = -1
    prev_s, prev_e = 0, -1
    for j in range(rows.shape[0]):
        r = rows[j]
        s, e = spans[r, col], spans[r, col + 1]
        if dedupe and e - s == prev_e - prev_s:
            same = True
            for k in range(e - s):
                if buf[s + k] != buf[prev_s + k]:
                    same = False
                    break
            if same:
                index[j] = entries
                continue
        if entries >= 0:
            out[p] = 10
            p += 1
        for k in range(s, e):
            out[p] = buf[k]
            p += 1
        entries += 1
        index[j] = entries
        prev_s, prev_e = s, e
    return out[:p], index


@dataclass(slots=True)
class ScanResult:
    """Per-row results of :func:`scan`: ``ok`` (accepted), ``spans`` (key and
    time string positions), ``values`` (time number when numeric, then the
    value fields) and ``crc`` (CRC-32 of the key bytes)."""

    ok: np.ndarray
    spans: np.ndarray
    values: np.ndarray
    crc: np.ndarray


def field_table(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Field names (key, time, value fields) as one byte array and offsets.

    >>> field_table(("k", "ts"))[1].tolist()
    [0, 1, 3]
    """
    raw = [n.encode() for n in names]
    offs = np.zeros(len(raw) + 1, dtype=np.int64)
    offs[1:] = np.cumsum([len(r) for r in raw])
    return np.frombuffer(b"".join(raw) or b"\0", dtype=np.uint8).copy(), offs


def scan(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, names: np.ndarray,
         offs: np.ndarray, limit: int, ts_string: bool) -> ScanResult:
    """Scan records ``buf[starts[i]:ends[i]]`` (``uint8`` buffer) for the
    fields of ``field_table`` (at most 62); ``ts_string``: whether the time
    field must be a string (ISO) or a number (epoch).

    >>> import numpy as np
    >>> b = np.frombuffer(b'{"k":"x","t":17e8}', np.uint8)
    >>> names, offs = field_table(("k", "t"))
    >>> r = scan(b, np.array([0]), np.array([len(b)]), names, offs, 100, False)
    >>> r.ok.tolist(), r.values.tolist(), hex(int(r.crc[0])) == hex(__import__("zlib").crc32(b"x"))
    ([True], [[1700000000.0]], True)
    """
    n = starts.shape[0]
    n_roles = offs.shape[0] - 1
    if n_roles > 62:
        raise ValueError("at most 62 fields")
    ok = np.zeros(n, dtype=np.bool_)
    spans = np.zeros((n, 4), dtype=np.int64)
    values = np.zeros((n, n_roles - 1), dtype=np.float64)
    inexact = np.zeros((n, n_roles - 1, 2), dtype=np.int64)
    crc = np.zeros(n, dtype=np.uint32)
    _scan(buf, np.ascontiguousarray(starts, dtype=np.int64),
          np.ascontiguousarray(ends, dtype=np.int64), names, offs, int(limit), bool(ts_string),
          _POW10, _CRC, ok, spans, values, inexact, crc)
    _convert_inexact(buf, ok, values, inexact)
    return ScanResult(ok, spans, values, crc)


def _convert_inexact(buf: np.ndarray, ok: np.ndarray, values: np.ndarray,
                     inexact: np.ndarray) -> None:
    """Convert the numbers the scanner left as NaN from their text, with
    Python's correctly rounded ``float``; a row whose number overflows to
    ±inf is no longer accepted (the decoder names its reason)."""
    rows, cols = np.nonzero(np.isnan(values) & ok[:, None])
    if rows.shape[0] == 0:
        return
    spans = inexact[rows, cols]
    joined, _ = _gather(buf, spans, 0, np.arange(rows.shape[0]), False)
    converted = np.array(list(map(float, joined.tobytes().split(b"\n"))), dtype=np.float64)
    values[rows, cols] = converted
    bad = ~np.isfinite(converted)
    if bad.any():
        ok[rows[bad]] = False


def gather_strings(buf: np.ndarray, spans: np.ndarray, col: int, rows: np.ndarray,
                   dedupe: bool = False) -> tuple[list[str], np.ndarray]:
    """The ASCII strings at ``spans[rows, col:col + 2]`` as Python strings
    (one C-level decode and split for all of them) and each row's index in
    that list; ``dedupe`` merges runs of equal consecutive strings.

    >>> import numpy as np
    >>> b = np.frombuffer(b"aabab", np.uint8)
    >>> sp = np.array([[0, 1], [1, 2], [2, 3], [3, 5]])
    >>> gather_strings(b, sp, 0, np.arange(4), dedupe=True)
    (['a', 'b', 'ab'], array([0, 0, 1, 2]))
    """
    if rows.shape[0] == 0:
        return [], np.zeros(0, dtype=np.int64)
    joined, index = _gather(buf, spans, col, np.ascontiguousarray(rows, dtype=np.int64), dedupe)
    return joined.tobytes().decode("ascii").split("\n"), index
