"""Prediction files open where users open them: CSV and TSV carry a UTF-8 BOM so Korean
Excel reads them, JSON Lines and standard output are plain UTF-8, CP949 is there for
old tools, and with --evaluate the true and the predicted labels are in one vocabulary."""

import codecs
import errno
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import PROJECT_ROOT

from app.cli import predict

COMMENTS = ["정말 재밌어요", "최악이다", "이모지 😀 도 있어요", "시간 아깝다"]


def run_predict(tiny_run, *args):
    return predict.main(["--model", str(tiny_run), "--workers", "1", *args])


@pytest.fixture
def comments(tmp_path):
    path = tmp_path / "comments.tsv"
    path.write_text("id\tdocument\tlabel\n" + "".join(f"{i}\t{text}\t{i % 2}\n" for i, text in enumerate(COMMENTS)),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["out.csv", "out.tsv"])
def test_csv_and_tsv_files_are_utf8_with_a_bom_by_default(tiny_run, comments, tmp_path, name, capsys):
    output = tmp_path / name
    assert run_predict(tiny_run, str(comments), "-o", str(output)) == 0
    raw = output.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    assert raw.decode("utf-8-sig").splitlines()[0].startswith("id")  # the BOM is not part of the first column's name
    result = pd.read_csv(output, sep="\t" if name.endswith(".tsv") else ",", dtype=str)
    assert result["document"].tolist() == COMMENTS
    assert f"wrote {output} (utf-8-sig)" in capsys.readouterr().err


def test_json_lines_and_standard_output_have_no_bom(tiny_run, comments, tmp_path, capsys):
    output = tmp_path / "out.jsonl"
    assert run_predict(tiny_run, str(comments), "-o", str(output)) == 0
    assert not output.read_bytes().startswith(codecs.BOM_UTF8)
    capsys.readouterr()
    assert run_predict(tiny_run, str(comments)) == 0
    assert capsys.readouterr().out.startswith("id,document")


def test_output_encoding_utf8_writes_no_bom(tiny_run, comments, tmp_path):
    output = tmp_path / "out.csv"
    assert run_predict(tiny_run, str(comments), "-o", str(output), "--output-encoding", "utf-8") == 0
    assert output.read_bytes().startswith(b"id,")


def test_cp949_keeps_every_row_and_counts_the_characters_it_cannot_hold(tiny_run, comments, tmp_path, capsys):
    output = tmp_path / "out.csv"
    assert run_predict(tiny_run, str(comments), "-o", str(output), "--output-encoding", "cp949") == 0
    result = pd.read_csv(output, encoding="cp949", dtype=str)
    assert result["document"].tolist() == ["정말 재밌어요", "최악이다", "이모지 ? 도 있어요", "시간 아깝다"]
    assert "1 character(s) that cp949 cannot hold were written as '?'" in capsys.readouterr().err


def test_evaluate_writes_the_predicted_label_in_the_vocabulary_of_the_label_column(tiny_run, comments, tmp_path, capsys):
    output = tmp_path / "out.csv"
    assert run_predict(tiny_run, str(comments), "--evaluate", "-o", str(output)) == 0  # labels written 0 / 1
    result = pd.read_csv(output, dtype=str)
    assert set(result["predicted_label"]) <= {"0", "1"}
    assert "'label' holds the model's label values, so 'predicted_label' is written in them too (0 = negative, 1 = positive)" \
        in capsys.readouterr().err

    named = tmp_path / "named.tsv"
    named.write_text("document\tlabel\n정말 재밌어요\tpositive\n최악이다\tnegative\n", encoding="utf-8")
    assert run_predict(tiny_run, str(named), "--evaluate", "-o", str(output)) == 0
    assert set(pd.read_csv(output, dtype=str)["predicted_label"]) <= {"negative", "positive"}
    assert "holds the model's label names" in capsys.readouterr().err


def test_without_evaluate_the_label_column_holds_the_names(tiny_run, comments, tmp_path):
    output = tmp_path / "out.csv"
    assert run_predict(tiny_run, str(comments), "-o", str(output)) == 0
    assert set(pd.read_csv(output, dtype=str)["predicted_label"]) <= {"negative", "positive"}


def test_an_output_that_is_a_directory_fails_before_any_work(tiny_run, comments, tmp_path, capsys):
    folder = tmp_path / "results.csv"
    folder.mkdir()
    assert run_predict(tiny_run, str(comments), "-o", str(folder)) == 2
    assert "results.csv: is a directory; name the output file" in capsys.readouterr().err


def test_an_output_in_a_read_only_folder_fails_before_any_work(tiny_run, comments, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user that may write anywhere (root)")
        assert run_predict(tiny_run, str(comments), "-o", str(locked / "out.csv")) == 2
        assert "cannot write in" in capsys.readouterr().err
    finally:
        locked.chmod(0o755)


def test_a_full_disk_is_one_line_and_leaves_no_file_behind(tiny_run, comments, tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    folder = tmp_path / "out"
    assert run_predict(tiny_run, str(comments), "-o", str(folder / "predictions.csv")) == 2
    assert "predictions.csv: could not write the output (No space left on device)" in capsys.readouterr().err
    assert list(folder.iterdir()) == []  # neither the output nor its temporary file


def test_the_temporary_file_is_new_and_unique_so_a_planted_link_is_never_followed(tiny_run, comments, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (tmp_path / ".out.csv.partial").symlink_to(victim)  # the fixed temporary name of earlier versions
    output = tmp_path / "out.csv"
    assert run_predict(tiny_run, str(comments), "-o", str(output)) == 0
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert len(pd.read_csv(output)) == len(COMMENTS)
    assert output.stat().st_mode & 0o777 == 0o666 & ~current_umask()


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_sigterm_leaves_neither_the_output_nor_a_temporary_file(tiny_run, tmp_path):
    source = tmp_path / "many.txt"
    source.write_text("정말 재밌어요\n" * 400_000, encoding="utf-8")
    output = tmp_path / "out" / "predictions.csv"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "predict.py"), "--model", str(tiny_run), str(source),
                                "-o", str(output), "--workers", "1"], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not list(output.parent.glob(".*.partial")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)  # until it is writing
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert list(output.parent.iterdir()) == []


def test_a_second_writer_of_the_same_output_fails_at_once_and_the_first_file_stays_whole(tiny_run, comments, tmp_path, capsys):
    from app.data.writers import OutputWriter

    output = tmp_path / "out.csv"
    with OutputWriter(output, "csv") as first:  # another predict.py, still writing
        first.write(pd.DataFrame({"id": [1, 2]}))
        assert run_predict(tiny_run, str(comments), "-o", str(output)) == 2
        assert f"{output}: another process is writing this file" in capsys.readouterr().err
    assert pd.read_csv(output)["id"].tolist() == [1, 2]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["comments.tsv", "out.csv"]  # no lock or temporary file left


def test_a_symlink_planted_at_the_lock_name_is_never_followed(tiny_run, comments, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (tmp_path / ".out.csv.lock").symlink_to(victim)
    assert run_predict(tiny_run, str(comments), "-o", str(tmp_path / "out.csv")) == 2
    assert "a symbolic link is in its place" in capsys.readouterr().err
    assert victim.read_text(encoding="utf-8") == "keep me" and not (tmp_path / "out.csv").exists()


def test_predict_killed_at_random_moments_leaves_the_old_file_or_the_whole_new_one_and_no_worker(exported_tiny_run, tmp_path):
    import random

    from bench.faults import comment_file, kill_predict, predict_problems

    rows, rng = 60_000, random.Random(20)
    source = comment_file(tmp_path / "comments.txt", rows)
    output = tmp_path / "out" / "predictions.csv"
    output.parent.mkdir()
    tries = [(signal.SIGKILL, None), (signal.SIGTERM, rng.uniform(0.5, 3)), (signal.SIGKILL, rng.uniform(0.5, 3))]
    for signal_number, delay in tries:  # None: once the tokenizer workers run
        outcome = kill_predict(str(exported_tiny_run), source, output, rows, signal_number, delay)
        assert predict_problems(outcome) == [], outcome
        if delay is None:
            assert outcome["processes_below"] >= 3 and outcome["output"] == "old", outcome  # killed mid-work
        for partial in output.parent.glob(".predictions.csv.*"):  # what SIGKILL cannot clean up
            partial.unlink()
