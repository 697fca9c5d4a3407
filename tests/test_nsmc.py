"""The NSMC corpus: the bundled sample when the full one is missing, and fetching
e9t/nsmc, whose raw crawl gives the 3-class sample and the unlabeled reviews."""

import json
import tarfile

import pytest

import app.paths
from app.cli import nsmc as nsmc_cli
from app.data import nsmc
from app.data.readers import resolve_data_path
from app.errors import DataError

HEADER = "id\tdocument\tlabel\n"
TRAIN = HEADER + "1\t재밌다\t1\n2\t지루하다\t0\n"
TEST = HEADER + "3\t최고의 영화\t1\n"
CRAWL = {  # movie -> its reviews as e9t's crawler saved them
    "100": [{"review_id": "1", "rating": "10", "review": "재밌다"},        # in ratings_train: left out
            {"review_id": "10", "rating": "1", "review": "돈 아깝다"},
            {"review_id": "11", "rating": "2", "review": "별로\t였다"},     # a tab inside: one field still
            {"review_id": "12", "rating": "6", "review": "그냥 그랬다"},
            {"review_id": "13", "rating": "7", "review": "볼만은\n하다"}],  # a line break inside
    "200": [{"review_id": "14", "rating": "9", "review": "또 보고 싶다"},
            {"review_id": "15", "rating": "10", "review": "인생 영화"},
            {"review_id": "16", "rating": "10", "review": "최고의 영화"},   # the text of a test review: left out
            {"review_id": "17", "rating": "3", "review": "돈 아깝다"},       # a repeat of review 10: left out
            {"review_id": "18", "rating": "8", "review": "   "},             # empty: left out
            {"review_id": "19", "rating": "4", "review": "시간 낭비"},
            {"review_id": "20", "rating": "5", "review": "평범"}],
}


@pytest.fixture
def clone(tmp_path):
    """A tiny stand-in for a clone of github.com/e9t/nsmc."""
    folder = tmp_path / "nsmc"
    (folder / "raw").mkdir(parents=True)
    (folder / "ratings_train.txt").write_text(TRAIN, encoding="utf-8")
    (folder / "ratings_test.txt").write_text(TEST, encoding="utf-8")
    for movie, reviews in CRAWL.items():
        (folder / "raw" / f"{movie}.json").write_text(json.dumps(reviews, ensure_ascii=False), encoding="utf-8")
    return folder


def read_sample(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id\tdocument\tlabel"
    return [tuple(line.split("\t")) for line in lines[1:]]


def test_fetch_from_a_clone_keeps_the_labeled_files_and_derives_the_other_two(clone, tmp_path):
    dest = tmp_path / "data" / "nsmc"
    written = nsmc.fetch(dest, clone, per_class=2)

    assert (dest / "ratings_train.txt").read_text(encoding="utf-8") == TRAIN  # as published, byte for byte
    assert (dest / "ratings_test.txt").read_text(encoding="utf-8") == TEST
    sample = read_sample(dest / "ratings3_sample.txt")
    unlabeled = (dest / "unlabeled_reviews.txt").read_text(encoding="utf-8").splitlines()
    assert sorted(label for _, _, label in sample) == ["0", "0", "1", "1", "2", "2"]  # 2 a class
    for review_id, _, label in sample:  # ratings 1-4 negative, 5-8 neutral, 9-10 positive
        rating = next(int(r["rating"]) for reviews in CRAWL.values() for r in reviews if r["review_id"] == review_id)
        assert label == ("0" if rating <= 4 else "1" if rating <= 8 else "2")
    texts = [text for _, text, _ in sample] + unlabeled
    # every usable crawl review once: none of the labeled files, no repeat, no empty one
    assert sorted(texts) == sorted(["돈 아깝다", "별로 였다", "그냥 그랬다", "볼만은 하다", "또 보고 싶다", "인생 영화", "시간 낭비", "평범"])
    assert written == {"ratings_train.txt": 2, "ratings_test.txt": 1, "ratings3_sample.txt": 6, "unlabeled_reviews.txt": 2}


def test_fetch_derives_the_same_files_every_time(clone, tmp_path):
    nsmc.fetch(tmp_path / "a", clone, per_class=2)
    nsmc.fetch(tmp_path / "b", clone, per_class=2)
    for name in ("ratings3_sample.txt", "unlabeled_reviews.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_fetch_reads_an_archive_of_the_repository(clone, tmp_path):
    """What the download is: a .tar.gz of the repository under one top folder."""
    archive = tmp_path / "nsmc-master.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(clone, arcname="nsmc-master")
    nsmc.fetch(tmp_path / "from-archive", archive, per_class=2)
    nsmc.fetch(tmp_path / "from-clone", clone, per_class=2)
    for name in ("ratings_train.txt", "ratings3_sample.txt", "unlabeled_reviews.txt"):
        assert (tmp_path / "from-archive" / name).read_bytes() == (tmp_path / "from-clone" / name).read_bytes()


def test_the_derived_files_are_read_as_nsmc(clone, tmp_path, monkeypatch):
    dest = tmp_path / "nsmc"
    nsmc.fetch(dest, clone, per_class=2)
    monkeypatch.setattr(app.paths, "nsmc_dirs", lambda: [dest])
    assert resolve_data_path("nsmc:train3") == dest / "ratings3_sample.txt"
    assert resolve_data_path("nsmc:unlabeled") == dest / "unlabeled_reviews.txt"


def test_a_folder_that_is_not_a_clone_is_one_clear_error(tmp_path):
    (tmp_path / "ratings_train.txt").write_text(TRAIN, encoding="utf-8")
    with pytest.raises(DataError, match=r"has no ratings_test\.txt, raw/\*\.json; expected a clone of github\.com/e9t/nsmc"):
        nsmc.fetch(tmp_path / "out", tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_broken_crawl_file_is_named_and_nothing_is_written(clone, tmp_path):
    (clone / "raw" / "300.json").write_text('[{"review_id": "30", "rating": "ten"}]', encoding="utf-8")
    with pytest.raises(DataError, match=r"raw/300\.json: not a crawl file of reviews with review_id, rating and review"):
        nsmc.fetch(tmp_path / "out", clone)
    assert not (tmp_path / "out").exists()


def test_the_command_prints_what_it_wrote(clone, tmp_path, capsys):
    assert nsmc_cli.main(["fetch", "--from", str(clone), "--to", str(tmp_path / "out"), "--per-class", "1"]) == 0
    out = capsys.readouterr().out
    assert "ratings3_sample.txt: 3 rows" in out and "unlabeled_reviews.txt: 5 rows" in out


def test_without_the_full_corpus_the_bundled_sample_is_used_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(app.paths, "nsmc_dirs", lambda: [tmp_path / "data" / "nsmc"])
    nsmc._say_the_sample_is_used.cache_clear()
    with caplog.at_level("WARNING"):
        assert resolve_data_path("nsmc:train") == nsmc.sample_dir() / "ratings_train.tsv"
        assert resolve_data_path("nsmc:test") == nsmc.sample_dir() / "ratings_test.tsv"
        assert resolve_data_path("nsmc:unlabeled") == nsmc.sample_dir() / "unlabeled_reviews.txt"
    assert len(caplog.records) == 1  # one line, once
    assert "the bundled sample" in caplog.text and "python -m app.cli.nsmc fetch" in caplog.text


def test_the_bundled_sample_is_real_nsmc_and_small():
    folder = nsmc.sample_dir()
    train = read_sample(folder / "ratings_train.tsv")
    assert len(train) == 20_000 and {label for *_, label in train} == {"0", "1"}
    assert len(read_sample(folder / "ratings_test.tsv")) == 5_000
    assert {label for *_, label in read_sample(folder / "ratings3_sample.tsv")} == {"0", "1", "2"}
    assert sum(path.stat().st_size for path in folder.iterdir()) < 5_000_000


def test_a_part_missing_beside_the_full_corpus_names_the_fetch_command(tmp_path, monkeypatch):
    (tmp_path / "ratings_train.txt").write_text(TRAIN, encoding="utf-8")  # e9t's two files, copied by hand
    monkeypatch.setattr(app.paths, "nsmc_dirs", lambda: [tmp_path])
    with pytest.raises(DataError) as caught:
        resolve_data_path("nsmc:test")
    message = str(caught.value)
    assert "ratings_test.txt not found in " + str(tmp_path) in message and "`python -m app.cli.nsmc fetch`" in message
