import pyarrow.parquet as pq

from ttscale.store import LocalStore


def test_rows_with_different_columns_keep_every_column(tmp_path):
    store = LocalStore(tmp_path)
    rows = [{"a": 1}, {"a": 2, "pred_maj@16": "x"}]
    path = store.write_chunk("run", 0, 2, rows, {"ok": True})
    table = pq.read_table(path).to_pylist()
    assert table == [{"a": 1, "pred_maj@16": None}, {"a": 2, "pred_maj@16": "x"}]
    assert store.has_chunk("run", 0, 2) and not store.has_chunk("run", 0, 3)
    assert [p.name for p in (tmp_path / "run").iterdir()] != []
    assert not list((tmp_path / "run").glob(".*tmp"))  # no temp files left behind
