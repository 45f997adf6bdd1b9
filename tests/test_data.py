import json

import pytest

from ttscale.data import DatasetError, load_rows, shard_range, to_problems


@pytest.mark.parametrize("total,count", [(10, 3), (7, 7), (3, 5), (0, 2), (500, 8), (1, 1)])
def test_shards_cover_rows_exactly_once(total, count):
    ranges = [shard_range(total, i, count) for i in range(count)]
    covered = [r for s, e in ranges for r in range(s, e)]
    assert covered == list(range(total))
    sizes = [e - s for s, e in ranges]
    assert max(sizes) - min(sizes) <= 1


def test_shard_index_out_of_range():
    with pytest.raises(ValueError, match="shard.index"):
        shard_range(10, 3, 3)


def test_loads_math500_from_shared(math500):
    rows = load_rows("file", str(math500), "test", "math500")
    problems = to_problems(rows)
    assert len(problems) == 500
    assert problems[0].level in range(1, 6)
    assert problems[0].unique_id.startswith("test/")


def _write(tmp_path, lines):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines))
    return str(path)


def test_dataset_errors_name_file_and_row(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_rows("file", str(tmp_path / "missing.jsonl"), "test", "x")
    with pytest.raises(DatasetError, match="no rows"):
        load_rows("file", _write(tmp_path, [""]), "test", "x")
    with pytest.raises(DatasetError, match=r"d.jsonl:2: malformed JSON"):
        load_rows(
            "file", _write(tmp_path, ['{"problem": "a", "answer": "1"}', "{oops"]), "test", "x"
        )
    rows = [{"problem": "a", "answer": "1", "unique_id": "u"}, {"problem": "b", "unique_id": "v"}]
    with pytest.raises(DatasetError, match="row 1: missing field 'answer'"):
        to_problems(rows)
    rows[1]["answer"] = ["x"]
    with pytest.raises(DatasetError, match="row 1: field 'answer' must be a string"):
        to_problems(rows)
    rows[1] = {"problem": "b", "answer": "2", "unique_id": "u"}
    with pytest.raises(DatasetError, match="rows 0, 1: duplicate id 'u'"):
        to_problems(rows)


def test_integer_answers_become_strings(tmp_path):
    path = _write(tmp_path, [json.dumps({"id": 7, "problem": "p", "answer": 33})])
    (p,) = to_problems(load_rows("file", path, "test", "x"), id_key="id")
    assert (p.answer, p.unique_id) == ("33", "7")
