"""bench/own_data.py turns the published corpora into the files train.py reads, the same
way every time, without losing or changing a comment."""

import pytest

from bench.own_data import CORPORA, TEST_ROWS_CURSE, corpus_files, labeled_rows, split_files

CURSE = CORPORA["curse"]


def write_curse_clone(data_dir, lines):
    clone = data_dir / "Curse-detection-data"
    clone.mkdir(parents=True)
    (clone / "dataset.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def curse_lines(count):
    # a tab, a quote and a | inside comments: TSV would split them, the label is after the last |
    return [f'댓글 {i}\t"인용" a|b|{i % 2}' for i in range(count)]


def test_the_curse_file_is_split_once_and_the_same_way_every_time(tmp_path):
    write_curse_clone(tmp_path / "data", curse_lines(TEST_ROWS_CURSE + 40))
    train, test = corpus_files(CURSE, tmp_path / "data", tmp_path / "work")
    train_rows, test_rows = labeled_rows(train, CURSE), labeled_rows(test, CURSE)
    assert (len(train_rows), len(test_rows)) == (40, TEST_ROWS_CURSE)
    expected = {(f'댓글 {i}\t"인용" a|b', "욕설" if i % 2 else "정상") for i in range(TEST_ROWS_CURSE + 40)}
    assert set(train_rows) | set(test_rows) == expected and not set(train_rows) & set(test_rows)
    again = corpus_files(CURSE, tmp_path / "data", tmp_path / "again")
    assert [labeled_rows(path, CURSE) for path in again] == [train_rows, test_rows]


def test_a_curse_line_without_a_label_is_named(tmp_path):
    write_curse_clone(tmp_path / "data", [*curse_lines(3), "라벨 없는 줄"])
    with pytest.raises(SystemExit, match=r"dataset.txt, line 4: expected `comment\|0` or `comment\|1`"):
        corpus_files(CURSE, tmp_path / "data", tmp_path / "work")


def test_a_missing_clone_says_what_to_clone(tmp_path):
    with pytest.raises(SystemExit, match="git clone https://github.com/kocohub/korean-hate-speech"):
        corpus_files(CORPORA["hate"], tmp_path, tmp_path / "work")


def test_validation_holds_out_a_stratified_part_of_the_train_file_only(tmp_path):
    write_curse_clone(tmp_path / "data", curse_lines(TEST_ROWS_CURSE + 200))
    train, test = corpus_files(CURSE, tmp_path / "data", tmp_path / "work")
    kept, validation = split_files(CURSE, train, test, "validation", None, tmp_path / "work")
    kept_rows, validation_rows = labeled_rows(kept, CURSE), labeled_rows(validation, CURSE)
    assert (len(kept_rows), len(validation_rows)) == (170, 30)
    assert sorted(kept_rows + validation_rows) == sorted(labeled_rows(train, CURSE))
    assert sum(label == "욕설" for _, label in validation_rows) == 15
