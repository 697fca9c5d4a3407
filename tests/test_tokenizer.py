"""Tokenizers: real analyzers, the same tokens in parallel as in one process, a disk cache."""

import pytest

from app.text.tokenizer import PARALLEL_MIN, Tokenizer

SENTENCE = "배우들 연기가 정말 좋았어요"


@pytest.mark.parametrize("backend, expected", [
    ("mecab", ["배우", "들", "연기", "가", "정말", "좋", "았", "어요"]),
    ("char", ["배", "우", "들", "▁", "연", "기", "가", "▁", "정", "말", "▁", "좋", "았", "어", "요"]),
])
def test_backends_split_a_comment_into_tokens(backend, expected):
    assert Tokenizer(backend, workers=1, cache=False).tokenize([SENTENCE]) == [expected]


def test_mecab_tokens_are_those_of_python_mecab_ko():
    """The fast path reads MeCab's text output; its tokens must stay the library's own
    (saved models and token caches depend on them)."""
    from mecab import MeCab

    comments = [SENTENCE, "ㅋㅋㅋ 개꿀잼!!! 10점 만점에 10점", "a\nb\tc  d", "漢字 한자 😀", "1.5배 빠른 GRU"]
    assert Tokenizer("mecab", workers=1, cache=False).tokenize(comments) == [MeCab().morphs(c) for c in comments]


def test_kiwi_tokens_in_a_batch_are_those_of_one_comment_at_a_time():
    from kiwipiepy import Kiwi

    comments = [SENTENCE, "", "시간 아깝다 ㅠㅠ", "   ", "배우들 연기가 별로였음"]
    kiwi = Kiwi()
    expected = [[token.form for token in kiwi.tokenize(c)] if c.strip() else [] for c in comments]
    assert Tokenizer("kiwi", workers=1, cache=False).tokenize(comments) == expected


def test_kiwi_finds_the_morphemes():
    tokens = Tokenizer("kiwi", workers=1, cache=False).tokenize([SENTENCE])[0]
    assert {"배우", "연기", "정말"} <= set(tokens)


def test_okt_stems_when_asked():
    tokens = Tokenizer("okt", stem=True, workers=1, cache=False).tokenize([SENTENCE])[0]
    assert "좋다" in tokens


def test_empty_and_blank_comments_have_no_tokens():
    assert Tokenizer("mecab", workers=1, cache=False).tokenize(["", "   ", None]) == [[], [], []]


def test_tokens_hold_no_spaces_or_control_characters():
    tokens = Tokenizer("mecab", workers=1, cache=False).tokenize(["좋아요\u200b\u3000최고\x1f다"])[0]
    assert tokens and all(t.isprintable() and " " not in t for t in tokens)


def test_worker_processes_give_the_same_tokens_in_order():
    texts = [f"{i}번째 댓글 정말 재밌다" if i % 2 else f"시간 아깝다 {i}" for i in range(PARALLEL_MIN + 10)]
    serial = Tokenizer("mecab", workers=1, cache=False).tokenize(texts)
    parallel = Tokenizer("mecab", workers=2, cache=False)
    try:
        assert parallel.tokenize(texts) == serial
        assert parallel.last_run["workers"] == 2
    finally:
        parallel.close()


def test_cache_serves_the_second_run_and_depends_on_settings(tmp_path):
    texts = ["재밌다", "별로다", ""]
    first = Tokenizer("mecab", workers=1, cache_dir=tmp_path)
    tokens = first.tokenize(texts)
    assert not first.last_run["cached"]
    second = Tokenizer("mecab", workers=1, cache_dir=tmp_path)
    assert second.tokenize(texts) == tokens and second.last_run["cached"]
    other = Tokenizer("char", workers=1, cache_dir=tmp_path)
    other.tokenize(texts)
    assert not other.last_run["cached"]


def test_a_damaged_cache_file_is_ignored(tmp_path):
    texts = ["재밌다", "별로다"]
    tokenizer = Tokenizer("mecab", workers=1, cache_dir=tmp_path)
    expected = tokenizer.tokenize(texts)
    for path in tmp_path.iterdir():
        path.write_text("broken\n", encoding="utf-8")
    again = Tokenizer("mecab", workers=1, cache_dir=tmp_path)
    assert again.tokenize(texts) == expected and not again.last_run["cached"]


def test_settings_name_the_backend_and_library_version():
    settings = Tokenizer("okt", stem=True, norm=True).settings()
    assert settings["backend"] == "okt" and settings["stem"] and settings["norm"]
    assert settings["library"].startswith("konlpy==")


def test_a_comment_of_a_megabyte_is_cut_before_tokenizing_and_said_so(caplog):
    import time

    from app.text.tokenizer import MAX_COMMENT_CHARS, cut_long_comment

    huge = "배우들 연기가 정말 좋았어요 " * 70_000  # about a megabyte
    tokenizer = Tokenizer("mecab", workers=1, cache=False)
    started = time.perf_counter()
    with caplog.at_level("WARNING"):
        tokens, = tokenizer.tokenize([huge])
    assert time.perf_counter() - started < 30  # whole, MeCab takes minutes
    assert "1 comment(s) longer than 20,000 characters" in caplog.text
    cut = cut_long_comment(huge)
    assert len(cut) == MAX_COMMENT_CHARS + 1 and cut.startswith(huge[:100]) and cut.endswith(huge[-100:])
    assert tokens == tokenizer.tokenize([cut])[0]  # the same rule wherever it tokenizes


def test_a_tokenizer_that_returns_nothing_is_an_error_naming_the_comment(monkeypatch):
    import app.text.tokenizer as tokenizer_module
    from app.errors import DataError

    monkeypatch.setitem(tokenizer_module._analyzers, ("mecab", False, False), lambda texts: [["좋"], None])
    with pytest.raises(DataError, match=r"^comment 3: the mecab tokenizer returned nothing for it$"):
        Tokenizer("mecab", workers=1, cache=False).tokenize(["좋아요", "", "별로"])
