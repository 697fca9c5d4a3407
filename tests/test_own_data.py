"""The README's "Your own data" commands, run as the README writes them, on what a
user brings: a three-class CSV saved from Excel as "CSV UTF-8" (with a BOM), columns
`comments,label` and string labels, and a test file saved as plain CSV on Korean
Windows (CP949). Only the model is swapped for the tests' tiny one, for time."""

import codecs
import os
import re
import shlex
import subprocess
import sys

import pandas as pd
from conftest import PROJECT_ROOT, SAMPLE_3CLASS

NAMES = {"0": "부정", "1": "중립", "2": "긍정"}


def readme_commands():
    """The commands of the first code block of the README's "Your own data" section."""
    section = PROJECT_ROOT.joinpath("README.md").read_text(encoding="utf-8").split("## Your own data", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line.split("  #")[0]) for line in block.splitlines() if line.startswith("python ")]


def write_user_files(folder):
    sample = pd.read_csv(SAMPLE_3CLASS, sep="\t", dtype=str, keep_default_na=False)
    frame = pd.DataFrame({"comments": sample["document"], "label": sample["label"].map(NAMES)})
    fits_cp949 = frame["comments"].map(lambda text: text.encode("cp949", "ignore").decode("cp949") == text)
    test = frame[fits_cp949].iloc[-60:]  # a CP949 file cannot hold emoji
    train = frame.drop(test.index)
    (folder / "comments.csv").write_bytes(codecs.BOM_UTF8 + train.to_csv(index=False).encode("utf-8"))
    (folder / "test.csv").write_bytes(test.to_csv(index=False).encode("cp949"))
    return test


def test_the_readme_own_data_commands_train_and_evaluate_a_three_class_excel_csv(tmp_path):
    test = write_user_files(tmp_path)
    commands = readme_commands()
    assert [command[1] for command in commands] == ["train.py", "predict.py"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for command in commands:
        command = [sys.executable, str(PROJECT_ROOT / command[1]), *command[2:]]
        if command[1].endswith("train.py"):
            command += ["--config", "tests/tiny.yaml", "--set", "train.epochs=2"]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, encoding="utf-8", env=env, timeout=300)
        assert result.returncode == 0, result.stderr
    assert "predicted 60 comments" in result.stderr and "accuracy" in result.stderr  # --evaluate printed its metrics
    raw = (tmp_path / "predictions.csv").read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)  # Excel-friendly: opens as text in Korean Excel
    predictions = pd.read_csv(tmp_path / "predictions.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert predictions["comments"].tolist() == test["comments"].tolist()  # every row, in order
    assert predictions["label"].tolist() == test["label"].tolist()
    predicted = predictions.loc[predictions["status"] == "ok", "predicted_label"]
    assert len(predicted) and set(predicted) <= set(NAMES.values())  # the same words as the label column
