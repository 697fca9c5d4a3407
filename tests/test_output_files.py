"""Prediction files open where users open them: CSV and TSV carry a UTF-8 BOM so Korean
Excel reads them, JSON Lines and standard output are plain UTF-8, CP949 is there for
old tools, and with --evaluate the true and the predicted labels are in one vocabulary."""

import codecs

import pandas as pd
import pytest

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
