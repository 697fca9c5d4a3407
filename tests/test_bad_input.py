"""Bad input never loses a row and never ends in a traceback.

predict.main is called in-process (TensorFlow is already loaded by the session's
tiny model), so each case costs milliseconds, not a new interpreter.
"""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import predict
from app.data.readers import open_source, read_comments
from app.errors import DataError

NASTY = [
    "", "   ", "null", "NA", "None", "NaN", "ㅋㅋㅋ", "ㅠㅠ", "😀😀👍", "韓國 映畫", "\u200b\u200b", "12345", "!!!...",
    "정말 \"최고\" 였다", "탭\t있음", "줄\n바꿈", "쉼표, 있음", "가" * 100_000, "좋\x00아요",
]


def run_predict(tiny_run, *args):
    return predict.main(["--model", str(tiny_run), "--workers", "1", *args])


def test_every_nasty_comment_keeps_its_row_and_gets_a_status(tiny_run, tmp_path):
    source = tmp_path / "nasty.jsonl"
    pd.DataFrame({"id": range(len(NASTY)), "document": NASTY}).to_json(source, orient="records", lines=True, force_ascii=False)
    output = tmp_path / "out.jsonl"
    assert run_predict(tiny_run, str(source), "-o", str(output)) == 0
    result = pd.read_json(output, lines=True, dtype=False)
    assert result["id"].tolist() == list(range(len(NASTY)))
    assert result["document"].tolist() == NASTY
    assert set(result["status"]) <= {"ok", "empty", "no_known_tokens"}
    assert result.loc[result["document"].str.strip() == "", "status"].eq("empty").all()
    without_prediction = result[result["status"] != "ok"]
    assert len(without_prediction) >= 4  # the blank ones, and at least the zero-width spaces
    assert without_prediction["label"].isna().all() and without_prediction["confidence"].isna().all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(NASTY[:-2]), st.text(max_size=40)), max_size=12))
def test_any_rows_come_back_as_many_and_in_order(tiny_run, tmp_path, comments):
    source = tmp_path / "rows.csv"
    pd.DataFrame({"n": range(len(comments)), "document": comments}).to_csv(source, index=False, lineterminator="\r\n")
    output = tmp_path / "rows.out.csv"
    assert run_predict(tiny_run, str(source), "-o", str(output)) == 0
    result = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert result["n"].tolist() == [str(i) for i in range(len(comments))]
    assert result["document"].tolist() == comments


def test_a_file_with_zero_rows_gives_just_the_header(tiny_run, tmp_path):
    source = tmp_path / "header_only.tsv"
    source.write_text("id\tdocument\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    assert run_predict(tiny_run, str(source), "-o", str(output)) == 0
    assert output.read_text(encoding="utf-8-sig").strip() == "id,document,label,confidence,p_negative,p_positive,status"


def test_invalid_bytes_stop_with_their_line_or_are_replaced_and_counted(tmp_path, capsys):
    path = tmp_path / "bad.tsv"
    path.write_bytes("id\tdocument\n1\t좋아요\n2\t".encode() + b"\xff\xfe bad\n" + "3\t끝\n".encode())
    with pytest.raises(DataError, match=r"bad.tsv: line 3: byte 0xff is not valid utf-8"):
        read_comments(open_source(path), "document")
    frame = read_comments(open_source(path, errors="replace"), "document")
    assert frame["document"].tolist() == ["좋아요", "\ufffd\ufffd bad", "끝"]
    assert "replaced 2 undecodable byte(s)" in capsys.readouterr().err


def test_nul_bytes_and_mixed_line_ends_neither_lose_nor_invent_rows(tmp_path):
    nul = tmp_path / "nul.tsv"
    nul.write_bytes("id\tdocument\n1\t좋\x00아요\n2\t별로\n".encode())
    assert read_comments(open_source(nul), "document")["document"].tolist() == ["좋\x00아요", "별로"]
    mixed = tmp_path / "mixed.txt"  # only "\n" ends a line, with or without "\r" before it
    mixed.write_bytes("하나\r\n둘\r셋\n넷".encode())
    assert read_comments(open_source(mixed), "document")["document"].tolist() == ["하나", "둘\r셋", "넷"]


def test_a_lone_carriage_return_inside_a_tsv_comment_keeps_the_row_whole(tmp_path):
    path = tmp_path / "cr.tsv"
    path.write_bytes("id\tdocument\tlabel\r\n1\t좋다\rㅋㅋ\t1\r\n2\t별로\t0\r\n".encode())
    frame = read_comments(open_source(path), "document")
    assert frame.to_dict("records") == [{"id": "1", "document": "좋다\rㅋㅋ", "label": "1"},
                                        {"id": "2", "document": "별로", "label": "0"}]


@pytest.mark.parametrize("name", ["blank.csv", "blank.tsv"])
def test_blank_lines_of_a_delimited_file_are_rows_as_in_a_text_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("document\n좋다\n\n\n별로\n", encoding="utf-8")
    assert read_comments(open_source(path), "document")["document"].tolist() == ["좋다", "", "", "별로"]


def test_a_header_naming_a_column_twice_is_refused_with_its_name(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,document,id\n1,좋다,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dup\.csv: line 1: the header names 'id' more than once; give each column its own name"):
        read_comments(open_source(path), "document")


def test_an_unclosed_quote_is_a_clear_error_naming_the_file(tmp_path):
    path = tmp_path / "unclosed.csv"
    path.write_text('id,document\n1,"안 닫힌 따옴표\n2,다음\n', encoding="utf-8")
    with pytest.raises(DataError, match="unclosed.csv: EOF inside string"):
        read_comments(open_source(path), "document")


def test_predict_refuses_to_overwrite_its_input_and_creates_output_folders(tiny_run, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("document\n좋아요\n", encoding="utf-8")
    assert run_predict(tiny_run, str(source), "-o", str(source)) == 2
    output = tmp_path / "new" / "folder" / "out.tsv"
    assert run_predict(tiny_run, str(source), "-o", str(output)) == 0
    assert output.read_text(encoding="utf-8-sig").startswith("document\tlabel")


def test_missing_input_is_an_error_not_a_traceback(tiny_run, tmp_path, capsys):
    assert run_predict(tiny_run, str(tmp_path / "nope.tsv")) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope.tsv'}: file not found"


def test_inputs_with_different_columns_are_refused_for_one_csv(tiny_run, tmp_path, capsys):
    first, second = tmp_path / "a.tsv", tmp_path / "b.csv"
    first.write_text("id\tdocument\n1\t좋아요\n", encoding="utf-8")
    second.write_text("document\n별로\n", encoding="utf-8")
    assert run_predict(tiny_run, str(first), str(second), "-o", str(tmp_path / "out.csv")) == 2
    assert "inputs have different columns" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()  # nothing half-written


def test_prediction_columns_never_overwrite_input_columns(tiny_run, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("document,label,predicted_label\n좋아요,1,keepme\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    assert run_predict(tiny_run, str(source), "-o", str(output)) == 0
    frame = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert frame.loc[0, "predicted_label"] == "keepme" and frame.loc[0, "label"] == "1"
    assert "predicted_predicted_label" in frame.columns


def test_negative_worker_counts_are_refused_by_the_parser(tiny_run):
    with pytest.raises(SystemExit) as exit_info:
        run_predict(tiny_run, "--text", "좋다", "--workers", "-1")
    assert exit_info.value.code == 2


def test_a_bad_run_name_stops_before_any_training(capsys):
    from app.cli import train

    assert train.main(["--config", "tests/tiny.yaml", "--name", "a/b"]) == 2
    assert "run name 'a/b' must be" in capsys.readouterr().err


def test_a_tab_inside_a_comment_is_an_error_but_trailing_tabs_are_fine(tmp_path):
    tabbed = tmp_path / "tab.tsv"
    tabbed.write_text("id\tdocument\n1\t좋아요\t정말\n", encoding="utf-8")
    with pytest.raises(DataError, match="tab.tsv: line 2 has more fields than the header"):
        read_comments(open_source(tabbed), "document")
    trailing = tmp_path / "trailing.tsv"
    trailing.write_text("id\tdocument\tlabel\n1\t재밌다\t1\t\n2\t지루하다\t0\t\n", encoding="utf-8")
    assert read_comments(open_source(trailing), "document")["label"].tolist() == ["1", "0"]


def test_cp949_is_detected_from_a_sample_cut_inside_a_character():
    from app.data.readers import detect_encoding

    cut = ("가나다" * 10).encode("cp949")[:-1]  # ends on the first byte of 다
    assert detect_encoding(cut, whole=False) == "cp949"
    assert detect_encoding(cut[:-1], whole=True) == "cp949"


def test_resume_without_an_interrupted_training_says_so(tmp_path, capsys):
    from app.cli import train

    assert train.main(["--config", "tests/tiny.yaml", "--models-dir", str(tmp_path), "--resume"]) == 2
    assert "no interrupted training of this config to resume" in capsys.readouterr().err


def test_evaluate_reports_labels_the_model_never_saw_and_reads_float_labels(tiny_run, tmp_path, capsys):
    source = tmp_path / "labeled.tsv"
    source.write_text("document\tlabel\n정말 재밌어요\t1.0\n최악이다\t0\n그냥 그래요\t7\n시간 아깝다\t\n", encoding="utf-8")
    assert run_predict(tiny_run, str(source), "--evaluate", "-o", str(tmp_path / "out.csv")) == 0
    err = capsys.readouterr().err
    assert "2 rows have a missing label or one the model does not know" in err
    assert "(2 comments)" in err  # 1.0 and 0 scored
    assert len(pd.read_csv(tmp_path / "out.csv")) == 4


def test_half_a_surrogate_pair_escaped_in_json_is_kept_and_predicted(tiny_run, tmp_path):
    source = tmp_path / "surrogate.jsonl"
    source.write_text('{"document": "\\ud800 정말 좋아요"}\n{"document": "별로"}\n', encoding="utf-8")
    for output in (tmp_path / "out.jsonl", tmp_path / "out.csv"):
        assert run_predict(tiny_run, str(source), "-o", str(output)) == 0
        result = pd.read_json(output, lines=True) if output.suffix == ".jsonl" else pd.read_csv(output)
        assert len(result) == 2 and result["status"].tolist() == ["ok", "ok"]


def test_invalid_bytes_in_a_command_line_comment_are_replaced_not_fatal(tiny_run, capsys):
    broken = b"\xff\xfe \xec\xa2\x8b\xec\x95\x84\xec\x9a\x94".decode("utf-8", "surrogateescape")  # as argv holds it
    assert run_predict(tiny_run, "--text", broken) == 0
    assert "\ufffd\ufffd 좋아요" in capsys.readouterr().out


def test_each_tool_names_its_own_flag_for_the_setting_that_fixes_an_error(tiny_run, tmp_path, capsys):
    from app.cli import train

    unknown = tmp_path / "comments.xlsx"
    unknown.write_text("가\n", encoding="utf-8")
    assert run_predict(tiny_run, str(unknown)) == 2
    assert capsys.readouterr().err.strip().endswith("give its format: tsv, csv, jsonl or txt (--format tsv, csv, jsonl or txt)")
    cp949 = tmp_path / "comments.tsv"
    cp949.write_bytes("document\tlabel\n좋아요\t1\n".encode("cp949"))
    assert train.main(["--config", "tests/tiny.yaml", "--data", str(cp949), "--set", "data.encoding=utf-8"]) == 2
    assert capsys.readouterr().err.strip().endswith("(--set data.encoding=..., or --set data.encoding_errors=replace)")


def test_a_missing_label_column_for_evaluate_fails_before_any_row_is_written(tiny_run, tmp_path, capsys):
    source = tmp_path / "labeled.tsv"
    source.write_text("document\tstars\n좋아요\t5\n별로\t1\n", encoding="utf-8")
    assert run_predict(tiny_run, str(source), "--evaluate") == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # not one prediction streamed before the error
    assert "labeled.tsv: --evaluate needs a label column 'label'; it has: document, stars (--label-column)" in captured.err
    assert run_predict(tiny_run, str(source), "--evaluate", "--label-column", "stars") == 0


@pytest.mark.parametrize("encoding", ["rot13", "base64", "utf-7"])
def test_an_encoding_that_is_not_a_text_encoding_is_one_line(tiny_run, tmp_path, capsys, encoding):
    source = tmp_path / "c.txt"
    source.write_text("좋아요\n", encoding="utf-8")
    assert run_predict(tiny_run, str(source), "--encoding", encoding) == 2
    assert f"'{encoding}' is not a text encoding for comment files" in capsys.readouterr().err


def test_workers_beyond_the_machine_and_a_run_name_too_long_are_refused_before_any_work(tiny_run, tmp_path, capsys):
    import os

    from app.cli import train

    with pytest.raises(SystemExit):
        run_predict(tiny_run, "--workers", str((os.cpu_count() or 1) + 1), "--text", "좋아요")
    assert "the cores of this machine" in capsys.readouterr().err
    assert train.main(["--config", "tests/tiny.yaml", "--models-dir", str(tmp_path), "--name", "r" * 300]) == 2
    assert "300 bytes; at most 200 fit a directory name" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # refused before anything was trained or written


# ----------------------------------------------------------------------------- records that cannot be read

BAD_RECORDS = [  # (line, what predict writes for it)
    ('{"id": 1, "document": "정말 재밌어요"}', "ok"),
    ('{"id": 2, "text": "다른 열 이름"}', "missing_text"),
    ('{"id": 3, "document": null}', "missing_text"),
    ('{"id": 4, "document": ["목록"]}', "malformed_record"),
    ('{"id": 5, "document": "잘린 줄', "malformed_record"),
    ('["객체가", "아님"]', "malformed_record"),
    ("[" * 100_000, "malformed_record"),  # nesting deeper than Python's recursion limit
    ('{"id": 8, "document": "최악이다"}', "ok"),
]


def test_a_json_lines_record_that_cannot_be_read_keeps_its_place_with_a_status(tiny_run, tmp_path, capsys):
    source = tmp_path / "export.jsonl"
    source.write_text("".join(line + "\n" for line, _ in BAD_RECORDS), encoding="utf-8")
    output = tmp_path / "out.jsonl"
    assert run_predict(tiny_run, str(source), "-o", str(output)) == 0
    result = pd.read_json(output, lines=True, dtype=False)
    assert result["status"].tolist() == [status for _, status in BAD_RECORDS]
    assert result["id"].tolist()[:4] == [1, 2, 3, 4]  # a record missing its text keeps its other fields
    assert result.loc[result["status"] != "ok", "label"].isna().all()
    assert "export.jsonl: 6 record(s) could not be read and keep their place with a status (malformed_record 4, " \
           "missing_text 2); the first: line 2: no key 'document' (it has: id, text)" in capsys.readouterr().err


def test_strict_stops_at_the_first_record_that_cannot_be_read_with_one_line(tiny_run, tmp_path, capsys):
    source = tmp_path / "export.jsonl"
    source.write_text("".join(line + "\n" for line, _ in BAD_RECORDS), encoding="utf-8")
    assert run_predict(tiny_run, str(source), "--strict", "-o", str(tmp_path / "out.jsonl")) == 2
    assert capsys.readouterr().err.strip() == f"error: {source}: line 2: no key 'document' (it has: id, text)"
    assert not list(tmp_path.glob("out.jsonl*")) and not list(tmp_path.glob(".out.jsonl*"))


@pytest.mark.parametrize("name, sep", [("rows.tsv", "\t"), ("rows.csv", ",")])
def test_a_row_with_more_fields_than_the_header_keeps_its_place_with_a_status(tmp_path, name, sep):
    from app.data.readers import iter_chunks, split_read_status

    rows = [f"{n}{sep}리뷰 {n}{sep}{n % 2}" for n in range(12)]
    rows[4] += f"{sep}탭 때문에 넘친 칸"
    rows[9] += f"{sep}또{sep}넘침"
    path = tmp_path / name
    path.write_text(f"id{sep}document{sep}label\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    chunks = [split_read_status(chunk) for chunk in iter_chunks(open_source(path), "document", chunk_rows=3)]
    frame = pd.concat([chunk for chunk, _ in chunks], ignore_index=True)
    status = [status for _, statuses in chunks for status in statuses]
    assert status == ["malformed_record" if n in (4, 9) else "" for n in range(12)]
    assert frame["id"].tolist() == [str(n) if n not in (4, 9) else "" for n in range(12)]
    with pytest.raises(DataError, match=rf"{name}: Expected 3 fields in line 6, saw 4"):
        read_comments(open_source(path, strict=True), "document")


# ----------------------------------------------------------------------------- reading in bounded memory

def test_a_line_longer_than_the_limit_stops_reading_with_its_number_in_every_format(tmp_path, monkeypatch):
    import io

    from app.data import readers

    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1000)
    long = "가" * 400  # 1,200 bytes
    files = {"c.txt": f"짧다\n{long}\n", "c.tsv": f"document\n짧다\n{long}\n", "c.csv": f'document\n짧다\n"{long}"\n',
             "c.jsonl": f'{{"document": "짧다"}}\n{{"document": "{long}"}}\n'}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        line = 2 if name in ("c.txt", "c.jsonl") else 3
        with pytest.raises(DataError, match=rf"{name}: line {line} is longer than 1,000 bytes"):
            read_comments(open_source(tmp_path / name), "document")
    stream = io.BufferedReader(io.BytesIO(b"\0" * 5000))  # /dev/zero through a pipe
    with pytest.raises(DataError, match=r"<stdin>: line 1 is longer than 1,000 bytes"):
        read_comments(open_source(stream=stream), "document")


def test_a_device_is_refused_and_a_fifo_is_read_once_as_it_is_written(tmp_path):
    import os
    import threading

    with pytest.raises(DataError, match=r"/dev/zero: is a device or special file, not a comment file"):
        open_source("/dev/zero", format="txt")
    fifo = tmp_path / "comments.tsv"
    os.mkfifo(fifo)
    lines = ["id\tdocument", *(f"{n}\t댓글 {n}" for n in range(20_000))]
    writer = threading.Thread(target=lambda: fifo.write_text("\n".join(lines) + "\n", encoding="utf-8"))
    writer.start()
    source = open_source(fifo)
    assert not source.rereadable
    frame = read_comments(source, "document")
    writer.join(timeout=10)
    assert frame["id"].tolist() == [str(n) for n in range(20_000)]  # the head looked at to detect it is not lost


def test_a_bad_byte_far_into_a_large_file_is_found_without_holding_the_file(tmp_path):
    import tracemalloc

    from app.data.readers import iter_chunks

    path = tmp_path / "large.txt"
    line = ("좋은 영화였다 " * 50)[:333].encode() + b"\n"  # 1,000 bytes
    with open(path, "wb") as handle:
        for _ in range(30):
            handle.write(line * 1000)
        handle.write(b"\xff\n")  # line 30,001, after 30 MB
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"large.txt: line 30,001: byte 0xff is not valid utf-8"):
            for _ in iter_chunks(open_source(path), "document", chunk_rows=1000):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 << 20, f"peak {peak / 2**20:.1f} MiB while reading a 30 MB file"


# ----------------------------------------------------------------------------- run files of the wrong shape

def _rewritten(tiny_run, tmp_path, name, text):
    import json
    import shutil

    from app.artifacts.run import _sha256

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / name).write_text(text, encoding="utf-8")
    if name != "bundle.json":  # an attacker can record the edited file's SHA-256: the checks behind it must hold
        info = json.loads((run / "bundle.json").read_text(encoding="utf-8"))
        info["file_sha256"] = {file: _sha256(run / file) for file in info["file_sha256"]}
        (run / "bundle.json").write_text(json.dumps(info), encoding="utf-8")
    return run


SECRET = "password=hunter2"  # a file put in place of a run file: its contents never appear in an error

WRONG_SHAPES = [
    ("bundle.json", "[1]", r"bundle.json: must hold a JSON object, not an array"),
    ("bundle.json", "null", r"bundle.json: must hold a JSON object, not null"),
    ("bundle.json", '{"format_version": 1, "file_sha256": [1]}', r"bundle.json: 'file_sha256' must map file names to SHA-256"),
    ("bundle.json", "[" * 100_000, r"bundle.json: not valid JSON \(nested too deep\)"),
    ("tokenizer.json", "null", r"tokenizer.json: must hold a JSON object, not null"),
    ("tokenizer.json", '{"backend": ["mecab"], "stem": false, "norm": false}', r"tokenizer.json: 'backend' must be one of"),
    ("tokenizer.json", '{"backend": "mecab", "stem": "yes", "norm": false}', r"tokenizer.json: 'stem' must be true or false"),
    ("labels.json", "[1]", r"labels.json: must hold a JSON object, not an array"),
    ("labels.json", '{"values": "01", "names": ["a", "b"]}', r"labels.json: 'values' must be a list of label strings, not a string"),
    ("labels.json", '{"values": ["0", "1"], "names": ["a"]}', r"labels.json: 'values' and 'names' must list the same labels"),
    ("metrics.json", "[1]", r"metrics.json: must hold a JSON object, not an array"),
    ("params.json", "null", r"params.json: must hold a JSON array, not null"),
    ("config.yaml", "null", r"config.yaml: must hold the run.s config \(a mapping of sections\), not null"),
    ("config.yaml", "- 1\n", r"config.yaml: must hold the run.s config \(a mapping of sections\), not an array"),
    ("vocab.txt", f"{SECRET}\nroot:x:0:0\n", r"vocab.txt: not a vocabulary saved by train.py"),
    ("history.csv", f"epoch,loss\n1,{SECRET}\n", r"history.csv: not a history saved by train.py"),
    ("labels.json", f'{{"values": "{SECRET}"', r"labels.json: not valid JSON at line 1"),
]


@pytest.mark.parametrize("name, text, message", WRONG_SHAPES, ids=[f"{n}:{t[:20]}" for n, t, _ in WRONG_SHAPES])
def test_a_run_file_of_the_wrong_shape_is_one_line_naming_it_and_never_quoting_it(tiny_run, tmp_path, name, text, message):
    from app.artifacts.run import SavedRun
    from app.errors import BundleError

    run = _rewritten(tiny_run, tmp_path, name, text)
    with pytest.raises(BundleError, match=message) as refused:
        SavedRun.load(run, keras_model=False)
    assert "\n" not in str(refused.value) and SECRET not in str(refused.value) and len(str(refused.value)) < 300
