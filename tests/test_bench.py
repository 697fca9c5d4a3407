"""The benches' own logic, without running a full benchmark: which configs bench/run.py trains,
how it writes what it measured, its tokenize part on 40 comments, what bench/export.py
records of the CPU."""

import argparse
import dataclasses
import platform

import pytest

from bench.run import configs_list, models_table, predict_table

PREDICT = {"comments": 100_000, "seconds": 13.04, "per_second": 7_670, "peak_rss_mib": 1_061,
           "cold_start_s": 3.95, "tf_import_s": 4.36, "command": "python predict.py ..."}


def test_configs_takes_shipped_nsmc_config_names_and_names_the_choices_otherwise():
    assert configs_list("best, lstm") == ["best", "lstm"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown config.*quick.*choose from best, gru, lstm, own_data, simple_rnn"):
        configs_list("best,quick")  # quick.yaml trains on the bundled sample, not NSMC


def test_predict_table_shows_every_try_behind_each_median():
    tries = {"tries_s": [13.23, 12.86, 13.04], "cold_start_tries_s": [4.25, 3.95, 3.95], "tf_import_tries_s": [4.41, 4.36, 4.29]}
    table = "\n".join(predict_table(PREDICT | tries))
    assert "13.04 s (median of [13.23, 12.86, 13.04]), 7,670 comments/s" in table
    assert "3.95 s (median of [4.25, 3.95, 3.95])" in table and "4.36 s (median of [4.41, 4.36, 4.29])" in table


def test_predict_table_still_renders_results_saved_before_the_tries_were_kept():
    """A partial rerun (--only configs) rewrites results.md from an older results.json."""
    table = "\n".join(predict_table(PREDICT))
    assert "| 100,000 comments in, CSV out | 13.04 s, 7,670 comments/s, peak 1,061 MiB |" in table


def test_parts_come_in_the_benchmarks_order_whatever_order_they_are_given():
    from bench.run import parts_list

    assert parts_list("predict,configs") == ["configs", "predict"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown part.*train.*choose from configs"):
        parts_list("train")


def test_retraining_some_configs_gives_them_their_own_time_until_all_are_retrained():
    from bench.run import measured_now

    earlier = {"configs": "2026-11-23 16:44", "predict": "2026-11-23 17:11"}
    some = measured_now(earlier, "configs", {"best": {}}, ["best"])
    assert some["configs"] == "2026-11-23 16:44" and set(some) == {"configs", "predict", "configs (best)"}
    every = measured_now(some, "configs", {"lstm": {}}, None)
    assert set(every) == {"configs", "predict"} and every["configs"] != "2026-11-23 16:44"


def test_configs_without_the_configs_part_is_refused(capsys):
    from bench.run import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--only", "ensemble", "--configs", "best"])
    assert "add configs to --only" in capsys.readouterr().err
    assert parse_args(["--only", "configs", "--configs", "best"]).configs == ["best"]


def test_a_distilled_config_names_its_teacher_under_the_table_and_older_results_still_render():
    plain = {"accuracy": 0.8854, "macro_f1": 0.8853, "seconds_per_epoch": 133.0, "epochs_run": 5, "best_epoch": 4,
             "pretrain_s": 40.1, "fit_s": 665.0, "wall_s": 750.2, "peak_rss_mib": 2751, "command": "python train.py ..."}
    teacher = {"unlabeled_comments": 200_000, "teacher_accuracy": 0.8891, "teacher_recurrent_accuracy": 0.8854,
               "teacher_ngram_accuracy": 0.8745, "teacher_seconds": 812.4}
    text = "\n".join(models_table({"best": plain | {"distill": teacher}, "lstm": plain}))
    assert ("best: distilled from a teacher (its recurrent model 0.8854, n-grams 0.8745, their mean 0.8891) "
            "trained and run in 812 s, on 200,000 unlabeled reviews") in text
    assert "lstm: distilled" not in text and "| lstm | 0.8854 |" in text


def test_the_three_class_bench_scores_on_the_rows_train_py_holds_out(tmp_path, monkeypatch):
    """bench/nsmc3.py fits TF-IDF and the recipe on the split `train.py --data nsmc3` makes."""
    import pandas as pd

    import app.paths
    from app.config.schema import Config, DataConfig, PretrainConfig
    from app.training.run import prepare_data
    from bench.nsmc3 import nsmc3_split

    monkeypatch.setattr(app.paths, "nsmc_dirs", lambda: [tmp_path / "no-corpus"])  # the bundled sample's 3,000 rows
    train, test = nsmc3_split(tmp_path)
    config = Config(data=DataConfig(train="nsmc:train3", test=None), pretrain=PretrainConfig(unlabeled=None))
    prepared = prepare_data(config)
    held_out, kept = pd.read_csv(test, keep_default_na=False), pd.read_csv(train, keep_default_na=False)
    assert held_out["document"].tolist() == prepared.test_texts
    assert kept["document"].tolist() == prepared.texts
    assert kept["label"].astype(str).tolist() == [prepared.labels.values[i] for i in prepared.y]


def test_the_peak_memory_of_a_command_sums_its_whole_process_tree():
    """bench/process_tree.py: a parent and its child, each holding 150 MiB at once,
    peak above 300 MiB together (getrusage would give only the larger one)."""
    import sys

    from bench.process_tree import run_measured

    hold = "data = b'x' * (150 * 2**20); import time; time.sleep(1.5)"
    parent = (f"import subprocess, sys; data = b'x' * (150 * 2**20); "
              f"sys.exit(subprocess.run([sys.executable, '-c', {hold!r}]).returncode)")
    status, errors, seconds, peaks = run_measured([sys.executable, "-c", parent])
    assert status == 0, errors
    assert peaks["total"] > 300 and seconds > 1.5


def test_the_export_bench_records_the_cpu_and_whether_it_has_int8_dot_products(tmp_path):
    from bench.export import cpu

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold\nflags\t\t: fpu avx2 avx512f avx512_vnni\n"
                    "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert cpu(info) == {"name": "Intel(R) Xeon(R) Gold", "avx512": True, "vnni": True}
    info.write_text("model name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx2 fma\n")
    assert cpu(info) == {"name": "AMD EPYC", "avx512": False, "vnni": False}
    assert cpu(tmp_path / "absent") == {"name": platform.processor(), "avx512": False, "vnni": False}


def test_the_tokenize_part_measures_every_backend_by_name_on_one_core_and_on_all(tmp_path):
    from app.text.backends import BACKENDS
    from bench.run import QUICK, Bench, part_tokenize

    sizes = dataclasses.replace(QUICK, tokenize_comments=40)
    bench = Bench(sizes, tmp_path / "train.tsv", tmp_path / "test.tsv", tmp_path / "runs", tmp_path / "work")
    (result,) = part_tokenize(bench)
    assert result["tokenize"]["comments"] == 40
    assert list(result["tokenize"]["per_second"]) == list(BACKENDS.names())
    assert all(speeds["one_core"] > 0 and speeds["all_cores"] > 0 for speeds in result["tokenize"]["per_second"].values())
