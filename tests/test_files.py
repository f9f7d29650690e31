"""Atomic writes and sha256, written once for every module that writes or checks a file."""

import hashlib

import pytest

from helpers.io import files


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


def test_an_atomic_write_goes_through_a_symbolic_link(tmp_path):
    target, link = tmp_path / "real" / "picture.bin", tmp_path / "link.bin"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link.symlink_to(target)
    with files.atomic_file(link) as f:
        f.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"  # the link kept, its target replaced
    dangling, missing = tmp_path / "dangling.bin", tmp_path / "real" / "not-yet.bin"
    dangling.symlink_to(missing)
    with files.atomic_file(dangling, replace=False) as f:  # a link to nothing is not a taken name
        f.write(b"made")
    assert dangling.is_symlink() and missing.read_bytes() == b"made"
    assert sorted(p.name for p in target.parent.iterdir()) == ["not-yet.bin", "picture.bin"]  # no leftovers
