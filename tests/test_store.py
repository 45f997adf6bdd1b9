import multiprocessing
import os
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ttscale.errors import StorageError
from ttscale.storage import (
    ChunkError,
    LocalStore,
    atomic_write_bytes,
    read_valid_chunk,
)
from ttscale.storage.naming import chunk_name, parse_chunk_file, parse_chunk_name


def test_rows_with_different_columns_keep_every_column(tmp_path):
    store = LocalStore(tmp_path)
    rows = [{"a": 1}, {"a": 2, "pred_maj@16": "x"}]
    path = store.write_chunk("run", 0, 2, rows, {"ok": True})
    table = pq.read_table(path).to_pylist()
    assert table == [{"a": 1, "pred_maj@16": None}, {"a": 2, "pred_maj@16": "x"}]
    assert store.has_chunk("run", 0, 2) and not store.has_chunk("run", 0, 3)
    assert [p.name for p in (tmp_path / "run").iterdir()] != []
    assert not list((tmp_path / "run").glob(".*tmp"))  # no temp files left behind


def _rows(start: int, end: int, tag: str = "x") -> list[dict]:
    return [{"index": i, "unique_id": f"id-{i}", "tag": tag} for i in range(start, end)]


def test_chunk_validation_names_the_file(tmp_path):
    store = LocalStore(tmp_path)
    path = Path(store.write_chunk("run", 3, 6, _rows(3, 6), {}))
    assert read_valid_chunk(path, 3, 6) == _rows(3, 6)
    cases = {
        "has 3 rows, expected 4": (3, 7),  # the file is named for other rows than it holds
        "not the dataset rows [4, 7)": (4, 7),
    }
    for message, (s, e) in cases.items():
        with pytest.raises(ChunkError, match=re.escape(message)) as err:
            read_valid_chunk(path, s, e)
        assert str(path) in str(err.value)
    store.write_chunk("run", 0, 2, [_rows(0, 1)[0], _rows(0, 1)[0] | {"index": 1}], {})
    with pytest.raises(ChunkError, match=r"duplicate problem ids \['id-0'\]"):
        store.read_chunk("run", 0, 2)
    path.write_bytes(path.read_bytes()[:-20])  # truncated
    with pytest.raises(ChunkError, match="unreadable parquet") as err:
        store.read_chunk("run", 3, 6)
    assert str(path) in str(err.value)
    assert not store.has_chunk("run", 3, 6) and not store.has_chunk("run", 0, 2)


def test_list_chunks_parses_names_and_ignores_other_files(tmp_path):
    store = LocalStore(tmp_path, "m/a")
    assert store.list_chunks("run") == []
    store.write_chunk("run", 10, 20, _rows(10, 20), {})
    store.write_chunk("run", 0, 10, _rows(0, 10), {})
    store.write_merged("run", _rows(0, 20), {})
    (store.run_dir("run") / ".chunk-20_30.parquet.abc.tmp").write_bytes(b"partial")
    assert store.list_chunks("run") == [(0, 10), (10, 20)]
    assert (
        parse_chunk_file("chunk-3_6.parquet") == (3, 6)
        and parse_chunk_file("merged.parquet") is None
    )
    assert parse_chunk_name(chunk_name(12, 40)) == (12, 40)
    assert parse_chunk_name("chunk-03_6") is None and parse_chunk_name("chunk-3_6.json") is None


@pytest.mark.parametrize("fail_in", ["fsync", "replace"])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial_file(
    tmp_path, monkeypatch, fail_in
):
    target = tmp_path / "chunk-0_1.parquet"
    atomic_write_bytes(target, b"old complete file")

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, fail_in, boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["chunk-0_1.parquet"]


def _write_many(root: str, tag: str, times: int) -> None:
    store = LocalStore(root)
    for _ in range(times):
        store.write_chunk("run", 0, 50, _rows(0, 50, tag), {"tag": tag})


def test_concurrent_writers_of_one_chunk_end_with_one_valid_chunk(tmp_path):
    # A duplicated array task: two processes write the same chunk at the same time.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), t, 30)) for t in "AB"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = LocalStore(tmp_path)
    rows = store.read_chunk("run", 0, 50)  # validates: 50 rows, unique ids, rows [0, 50)
    assert len({r["tag"] for r in rows}) == 1  # all from one writer, never interleaved
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "chunk-0_50.json",
        "chunk-0_50.parquet",
    ]


def test_check_writable_names_the_key(tmp_path):
    # We run as root, so permissions do not stop writes: a folder under a regular file does.
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="storage.results_dir=.*is not writable"):
        LocalStore(blocker / "results").check_writable()


def test_written_files_follow_the_umask_not_mkstemps_0600(tmp_path):
    # Results on a shared cluster must be readable by the group, as any other file would be.
    old = os.umask(0o022)
    os.umask(old)
    path = tmp_path / "a.json"
    atomic_write_bytes(path, b"{}")
    assert path.stat().st_mode & 0o777 == 0o666 & ~old


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import errno
    import os

    from ttscale.errors import StorageError
    from ttscale.storage import atomic_write_bytes

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError, match=r"cannot write .*chunk-0_1.parquet: No space left"):
        atomic_write_bytes(tmp_path / "r" / "chunk-0_1.parquet", b"x" * 100)
    assert list((tmp_path / "r").iterdir()) == []  # no temp file, no chunk
