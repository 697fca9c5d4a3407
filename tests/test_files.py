"""AtomicDirectory, atomic_file, write_text_atomically and write_json_atomically, the ways runs, comparisons,
checkpoints, reports, figures, benchmark results and caches are written: complete or not at all."""

import csv
import json
import os

import pytest

from app.files import AtomicDirectory, atomic_file, write_json_atomically, write_text_atomically


def test_a_new_directory_appears_only_when_complete_and_a_taken_name_gets_a_suffix(tmp_path):
    with (first := AtomicDirectory(tmp_path / "run")) as staging:
        (staging / "model.keras").write_text("weights")
        assert not (tmp_path / "run").exists()  # nothing under the final name while writing
    with (second := AtomicDirectory(tmp_path / "run")) as staging:
        (staging / "model.keras").write_text("other weights")
    assert (first.path, second.path) == (tmp_path / "run", tmp_path / "run-2")
    assert (tmp_path / "run" / "model.keras").read_text() == "weights"


def test_an_interrupted_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(KeyboardInterrupt), AtomicDirectory(tmp_path / "run") as staging:
        (staging / "half").write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_replace_swaps_the_whole_directory_and_keeps_the_old_one_when_interrupted(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    with AtomicDirectory(checkpoint, mode="replace") as staging:
        (staging / "state.json").write_text("epoch 1")
    with pytest.raises(KeyboardInterrupt), AtomicDirectory(checkpoint, mode="replace") as staging:
        (staging / "state.json").write_text("epoch 2, half")
        raise KeyboardInterrupt
    assert (checkpoint / "state.json").read_text() == "epoch 1"
    with AtomicDirectory(checkpoint, mode="replace") as staging:
        (staging / "state.json").write_text("epoch 2")
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"] and (checkpoint / "state.json").read_text() == "epoch 2"


def test_merge_adds_whole_files_to_a_folder_and_leaves_its_other_files_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with AtomicDirectory(tmp_path, mode="merge") as staging:
        (staging / "attributions.html").write_text("<html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attributions.html", "notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_unknown_mode_is_refused_naming_the_allowed_ones(tmp_path):
    with pytest.raises(ValueError, match="mode must be one of new, replace, merge, not 'append'"):
        AtomicDirectory(tmp_path, mode="append")


def test_a_file_written_atomically_replaces_the_old_one_whole_with_open_s_permissions(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")
    write_text_atomically(target, "새 결과\n")
    assert target.read_text(encoding="utf-8") == "새 결과\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
    (tmp_path / "plain.json").write_text("x")
    assert target.stat().st_mode & 0o777 == (tmp_path / "plain.json").stat().st_mode & 0o777


def test_a_failed_atomic_file_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomically(target, "명작", encoding="ascii")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_an_atomic_file_write_into_a_missing_folder_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        write_text_atomically(tmp_path / "missing" / "results.json", "{}")
    assert os.listdir(tmp_path) == []


def test_a_binary_file_written_atomically_appears_only_when_its_block_ends_cleanly(tmp_path):
    target = tmp_path / "vectors.npy"
    with atomic_file(target, binary=True) as handle:
        handle.write(b"\x93NUMPY")
        assert not target.exists()  # nothing under the final name while writing
    assert target.read_bytes() == b"\x93NUMPY"
    with pytest.raises(KeyboardInterrupt), atomic_file(target, binary=True) as handle:
        handle.write(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"\x93NUMPY"
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.npy"]


def test_json_is_written_indented_with_hangul_as_itself_and_a_final_newline(tmp_path):
    target = tmp_path / "results.json"
    write_json_atomically(target, {"text": "명작", "rows": [1, 2]})
    text = target.read_text(encoding="utf-8")
    assert text == '{\n  "text": "명작",\n  "rows": [\n    1,\n    2\n  ]\n}\n'
    assert json.loads(text) == {"text": "명작", "rows": [1, 2]}


def test_data_json_cannot_hold_leaves_the_old_file_alone(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_json_atomically(target, {"path": tmp_path})
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_csv_written_atomically_keeps_its_own_line_endings(tmp_path):
    target = tmp_path / "curves.csv"
    with atomic_file(target, newline="") as handle:
        csv.writer(handle).writerows([["run", "distance"], ["lstm", 1]])
    assert target.read_bytes() == b"run,distance\r\nlstm,1\r\n"
