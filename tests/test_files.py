"""Atomic writes and sha256, written once for every module that writes or checks a file."""

import hashlib

import pytest

from helpers import files


def test_sha256_of_a_file_larger_than_one_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "CHUNK", 7)  # several chunks, the last one short
    data = bytes(range(256)) * 3
    (tmp_path / "f").write_bytes(data)
    assert files.sha256_of(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert files.sha256_of(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_an_atomic_write_is_whole_or_not_at_all(tmp_path):
    path = tmp_path / "sub" / "out.bin"
    with files.atomic_file(path) as f:
        f.write(b"first")
    assert path.read_bytes() == b"first" and path.stat().st_mode & 0o777 != 0o600  # not mkstemp's private mode
    with pytest.raises(RuntimeError), files.atomic_file(path) as f:
        f.write(b"half of the sec")
        raise RuntimeError("the disk filled up")
    assert path.read_bytes() == b"first"  # the old file is untouched
    assert [p.name for p in path.parent.iterdir()] == ["out.bin"]  # and no temporary file is left
