"""JSONL lines come out exactly as the file holds them, whatever the block
boundaries, batch sizes and resume points."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from pynomaly.connectors.file_source import _jsonl_lines, read_batches

_line = st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"x").replace(b"\r", b"y"))


@settings(max_examples=200, deadline=None)
@given(st.lists(_line, max_size=30), st.booleans(), st.booleans(), st.integers(1, 17))
def test_lines_survive_any_block_boundary(lines, crlf, final_newline, block):
    sep = b"\r\n" if crlf else b"\n"
    data = sep.join(lines) + (sep if final_newline and lines else b"")
    got = [ln for chunk in _jsonl_lines(io.BytesIO(data), block) for ln in chunk]
    expected = list(lines)
    if lines and not final_newline and lines[-1] == b"":
        expected.pop()  # a file cannot end in an empty line without its newline
    assert got == expected


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 40), batch_size=st.integers(1, 9), skip=st.integers(0, 45))
def test_batches_resume_after_any_record(tmp_path_factory, n, batch_size, skip):
    path = tmp_path_factory.mktemp("jsonl") / "m.jsonl"
    path.write_bytes(b"".join(b'{"i":%d}\n' % i for i in range(n)))
    batches = list(read_batches(str(path), batch_size=batch_size, skip=skip))
    assert [p for b in batches for p in b.payloads] == [b'{"i":%d}' % i for i in range(skip, n)]
    assert all(len(b.payloads) == batch_size for b in batches[:-1])
    assert [b.first_index for b in batches] == [skip + 1 + k * batch_size
                                                  for k in range(len(batches))]
