"""Reading comment files: formats, encodings, chunks, NSMC locations, label sets and
the rows training cannot use. Every reader gives strings, as written in the file."""

import io
import json

import pandas as pd
import pytest

from app.data.readers import (
    DataError,
    LabelSet,
    detect_encoding,
    drop_unusable_rows,
    iter_chunks,
    normalize_label,
    open_source,
    read_comments,
    resolve_data_path,
    split_read_status,
)
from app.paths import nsmc_dirs

REVIEWS = ['"명작"이라고 부르고 싶다', '이건 "진짜" 최고', '"닫히지 않는 따옴표', "null", "NA", "None", "NaN", "별로 ㅋㅋ"]


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def read(path, **options):
    return read_comments(open_source(path, **options), "document")


def rows(frame):
    return frame.to_dict("records")


def assert_all_text(frame):
    assert not frame.isna().any().any()
    assert all(isinstance(value, str) for column in frame.columns for value in frame[column])


# ----------------------------------------------------------------------------- TSV (NSMC)

@pytest.fixture
def nsmc_tsv(tmp_path):
    ids = ["007", *map(str, range(2, len(REVIEWS) + 1))]
    lines = ["id\tdocument\tlabel", *(f"{i}\t{review}\t{n % 2}" for n, (i, review) in enumerate(zip(ids, REVIEWS)))]
    return write(tmp_path, "ratings.tsv", "\n".join(lines) + "\n")


def test_nsmc_tsv_with_bare_quotes_reads_back_exactly(nsmc_tsv):
    frame = read(nsmc_tsv)
    assert list(frame.columns) == ["id", "document", "label"]
    assert frame["document"].tolist() == REVIEWS
    assert frame["label"].tolist() == [str(n % 2) for n in range(len(REVIEWS))]


def test_tsv_values_stay_strings_and_na_words_stay_text(nsmc_tsv):
    frame = read(nsmc_tsv)
    assert frame["id"].iloc[0] == "007"
    assert_all_text(frame)
    assert frame["document"].tolist()[3:7] == ["null", "NA", "None", "NaN"]


def test_tsv_and_csv_columns_hold_python_strings_not_arrow_ones(tmp_path, nsmc_tsv):
    csv_file = write(tmp_path, "ratings.csv", "id,document\n1,명작\n2,별로\n")
    for path in (nsmc_tsv, csv_file):
        for chunk in iter_chunks(open_source(path), "document", chunk_rows=3):
            assert all(dtype == "object" for dtype in chunk.dtypes), chunk.dtypes


def test_nsmc_txt_with_a_tab_separated_header_is_read_as_tsv(tmp_path):
    path = write(tmp_path, "ratings_train.txt", 'id\tdocument\tlabel\n1\t"명작"\t1\n2\t졸작\t0\n')
    source = open_source(path)
    assert source.format == "tsv"
    assert rows(read_comments(source, "document")) == [
        {"id": "1", "document": '"명작"', "label": "1"}, {"id": "2", "document": "졸작", "label": "0"}]


@pytest.mark.parametrize("name, sep", [("trailing.tsv", "\t"), ("trailing.csv", ",")])
def test_an_extra_field_in_the_first_row_never_shifts_the_columns(tmp_path, name, sep):
    # every data row ends with a separator (a common export quirk); the header does not
    path = write(tmp_path, name, f"id{sep}document{sep}label\n1{sep}재밌다{sep}1{sep}\n2{sep}지루하다{sep}0{sep}\n")
    try:
        frame = read(path)
    except DataError:
        return  # refusing the file is fine too
    assert frame["document"].tolist() == ["재밌다", "지루하다"]


# ----------------------------------------------------------------------------- CSV, JSON Lines, text

def test_csv_quoted_field_keeps_its_comma_newline_and_doubled_quote(tmp_path):
    path = write(tmp_path, "c.csv", 'id,document,label\r\n1,"하나, 둘\r\n셋",1\r\n2,"그냥 ""최고""",0\r\n007,null,1\r\n')
    frame = read(path)
    assert rows(frame) == [
        {"id": "1", "document": "하나, 둘\r\n셋", "label": "1"},
        {"id": "2", "document": '그냥 "최고"', "label": "0"},
        {"id": "007", "document": "null", "label": "1"},
    ]


def test_jsonl_numbers_become_their_text_and_a_null_or_an_array_keeps_its_row_with_a_status(tmp_path):
    records = [{"document": "좋아요", "label": 1}, {"document": None, "label": 0}, {"document": 5, "label": 1},
               {"document": 2.5, "label": 0}, {"document": True, "label": 1}, {"document": ["가"], "label": 0}]
    path = write(tmp_path, "c.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    frame, status = split_read_status(read(path))
    assert frame["document"].tolist() == ["좋아요", "", "5", "2.5", "true", ""]
    assert status.tolist() == ["", "missing_text", "", "", "", "malformed_record"]
    assert frame["label"].tolist() == [1, 0, 1, 0, 1, 0]  # the rest of the record is kept


def test_jsonl_fields_other_than_the_text_keep_their_json_types(tmp_path):
    path = write(tmp_path, "c.jsonl", '{"id": "007", "document": "가", "label": 1, "score": 0.5}\n'
                                      '{"id": "008", "document": "나", "label": 0, "score": 1.5}\n')
    assert rows(read(path)) == [{"id": "007", "document": "가", "label": 1, "score": 0.5},
                                {"id": "008", "document": "나", "label": 0, "score": 1.5}]


def test_strict_reading_stops_at_an_invalid_json_line_naming_it(tmp_path):
    path = write(tmp_path, "c.jsonl", '{"document": "하나"}\n\n{"document": "둘",,}\n')
    with pytest.raises(DataError, match=r"c\.jsonl: line 3: not valid JSON"):
        read(path, strict=True)


def test_strict_reading_stops_at_a_line_that_is_not_an_object_or_lacks_the_text_key(tmp_path):
    with pytest.raises(DataError, match=r"a\.jsonl: line 2: expected a JSON object, got list"):
        read(write(tmp_path, "a.jsonl", '{"document": "a"}\n["b"]\n'), strict=True)
    with pytest.raises(DataError, match=r"b\.jsonl: line 1: no key 'document' \(it has: text, label\)"):
        read(write(tmp_path, "b.jsonl", '{"text": "a", "label": 1}\n'), strict=True)


def test_jsonl_integers_stay_integers_when_another_record_lacks_the_key(tmp_path):
    big = 2**53 + 1
    path = write(tmp_path, "c.jsonl", f'{{"id": {big}, "n": 7, "document": "하나"}}\n{{"document": "둘"}}\n')
    frame = read(path)
    first_id, first_n = frame["id"].tolist()[0], frame["n"].tolist()[0]  # plain Python values: exact comparison
    assert first_id == big, f"id {big} read back as {first_id!r}"
    assert first_n == 7 and not isinstance(first_n, float), f"7 read back as {first_n!r}"


def test_text_file_is_one_comment_per_line_with_crlf_and_empty_lines_kept(tmp_path):
    path = write(tmp_path, "c.txt", "첫째 줄\r\n\r\n  셋째 줄 \r\n넷째")
    frame = read(path)
    assert list(frame.columns) == ["document"]
    assert frame["document"].tolist() == ["첫째 줄", "", "  셋째 줄 ", "넷째"]


def test_a_stream_is_read_as_text_lines_with_detected_encoding():
    stream = io.BufferedReader(io.BytesIO("재밌다\r\n노잼\n".encode("cp949")))
    source = open_source(stream=stream)
    assert (source.format, source.encoding) == ("txt", "cp949")
    assert read_comments(source, "document")["document"].tolist() == ["재밌다", "노잼"]


# ----------------------------------------------------------------------------- choosing the format

@pytest.mark.parametrize("name, text, expected_format", [
    ("c.tsv", "document\tlabel\n가\t1\n", "tsv"),
    ("c.CSV", "document,label\n가,1\n", "csv"),
    ("c.jsonl", '{"document": "가", "label": 1}\n', "jsonl"),
    ("c.ndjson", '{"document": "가", "label": 1}\n', "jsonl"),
    ("c.txt", "가\n", "txt"),
])
def test_format_is_chosen_by_extension(tmp_path, name, text, expected_format):
    source = open_source(write(tmp_path, name, text))
    assert source.format == expected_format
    assert read_comments(source, "document")["document"].tolist() == ["가"]


def test_format_option_overrides_the_extension(tmp_path):
    path = write(tmp_path, "comments.txt", "document,label\n\"가, 나\",1\n")
    assert read(path)["document"].tolist() == ["document,label", '"가, 나",1']
    assert rows(read(path, format="csv")) == [{"document": "가, 나", "label": "1"}]
    assert rows(read(write(tmp_path, "comments.dat", "document\tlabel\n가\t0\n"), format="tsv")) == [
        {"document": "가", "label": "0"}]


def test_unknown_extension_is_an_error_suggesting_format(tmp_path):
    path = write(tmp_path, "comments.xlsx", "가\n")
    with pytest.raises(DataError, match=r"give its format: tsv, csv, jsonl or txt") as caught:
        open_source(path)
    assert "comments.xlsx" in str(caught.value) and "'.xlsx'" in str(caught.value)
    assert caught.value.parameter == "format"  # the tools add their flag: --format, --set data.format


def test_open_source_on_a_missing_file_or_a_directory_is_an_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        open_source(tmp_path / "missing.tsv")
    with pytest.raises(DataError, match="is a directory"):
        open_source(tmp_path)


# ----------------------------------------------------------------------------- encodings

KOREAN_TSV = 'id\tdocument\tlabel\n1\t정말 재미있는 영화였어요!\t1\n2\t"최악"의 각본, 배우는 좋음\t0\n'


@pytest.mark.parametrize("encoding, detected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp949", "cp949"), ("euc-kr", "cp949"), ("utf-16", "utf-16"),
])
def test_the_same_korean_text_reads_back_identically_in_every_encoding(tmp_path, encoding, detected):
    path = write(tmp_path, "c.tsv", KOREAN_TSV, encoding=encoding)
    source = open_source(path)
    assert source.encoding == detected
    frame = read_comments(source, "document")
    assert list(frame.columns) == ["id", "document", "label"]  # no BOM stuck to "id"
    assert frame["document"].tolist() == ["정말 재미있는 영화였어요!", '"최악"의 각본, 배우는 좋음']


def test_an_explicit_encoding_is_used_as_given(tmp_path):
    path = write(tmp_path, "c.tsv", KOREAN_TSV, encoding="euc-kr")
    source = open_source(path, encoding="euc-kr")
    assert source.encoding == "euc-kr"
    assert read_comments(source, "document")["document"].iloc[0] == "정말 재미있는 영화였어요!"


def test_an_unknown_encoding_name_is_an_error(tmp_path):
    path = write(tmp_path, "c.tsv", KOREAN_TSV)
    with pytest.raises(DataError, match=r"unknown encoding 'klingon-8'"):
        open_source(path, encoding="klingon-8")


@pytest.mark.parametrize("name, line", [("c.tsv", 2), ("c.txt", 1), ("c.jsonl", 1)])
def test_a_wrong_encoding_is_an_error_naming_the_line_and_byte(tmp_path, name, line):
    text = {"c.tsv": KOREAN_TSV, "c.txt": "재밌다\n", "c.jsonl": '{"document": "재밌다"}\n'}[name]
    path = write(tmp_path, name, text, encoding="cp949")
    with pytest.raises(DataError, match=rf"line {line}: byte 0x[0-9a-f]{{2}} is not valid utf-8; give its encoding"):
        read(path, encoding="utf-8")


def test_encoding_errors_replace_reads_past_bad_bytes_and_counts_them(tmp_path, caplog):
    path = write(tmp_path, "c.tsv", "id\tdocument\tlabel\n1\t가나다\t0\n2\tok\t1\n", encoding="cp949")
    frame = read(path, encoding="utf-8", errors="replace")
    assert frame["document"].tolist() == ["\ufffd" * 6, "ok"]  # U+FFFD for each bad byte, row kept
    assert frame["id"].tolist() == ["1", "2"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]  # the library logs; tools show it on stderr
    assert any("replaced 6 undecodable byte(s)" in message for message in warnings)


def test_detect_encoding_by_bom_then_utf8_then_cp949():
    assert detect_encoding(b"plain ascii") == "utf-8"
    assert detect_encoding(b"") == "utf-8"
    assert detect_encoding("가나다".encode()) == "utf-8"
    assert detect_encoding("가나다".encode("utf-8-sig")) == "utf-8-sig"
    assert detect_encoding("가나다".encode("utf-16-le").join([b"\xff\xfe", b""])) == "utf-16"
    assert detect_encoding("가나다".encode("utf-16-be").join([b"\xfe\xff", b""])) == "utf-16"
    assert detect_encoding("가나다".encode("cp949")) == "cp949"


def test_a_utf8_sample_cut_inside_its_last_character_is_still_utf8():
    head = ("가" * 30000).encode("utf-8")[: 1 << 16]  # 65536 bytes: the last character is cut
    assert len(head) == 1 << 16
    assert detect_encoding(head) == "utf-8"


def test_cp949_whose_first_korean_byte_is_at_the_end_of_the_sample_is_cp949():
    head = b"a" * ((1 << 16) - 2) + "가".encode("cp949")  # b"\xb0\xa1": 0xb0 cannot start a UTF-8 character
    assert len(head) == 1 << 16
    assert detect_encoding(head) == "cp949"


# ----------------------------------------------------------------------------- columns and empty files

def test_missing_text_column_error_names_it_and_lists_the_file_columns(tmp_path):
    path = write(tmp_path, "c.csv", "id,text,label\n1,가,0\n")
    with pytest.raises(DataError) as caught:
        read(path)
    message = str(caught.value)
    assert "'document'" in message and "(the file has: id, text, label)" in message and "c.csv" in message


def test_header_only_tsv_gives_zero_rows_with_the_columns(tmp_path):
    frame = read(write(tmp_path, "c.tsv", "id\tdocument\tlabel\n"))
    assert len(frame) == 0
    assert list(frame.columns) == ["id", "document", "label"]


def test_header_only_tsv_without_the_text_column_is_still_an_error(tmp_path):
    with pytest.raises(DataError, match=r"no column 'document' \(the file has: id, text\)"):
        read(write(tmp_path, "c.tsv", "id\ttext\n"))


def test_empty_tsv_is_an_error_saying_empty(tmp_path):
    with pytest.raises(DataError, match=r"c\.tsv: file is empty"):
        read(write(tmp_path, "c.tsv", ""))


def test_strict_reading_stops_at_a_row_with_too_many_fields_naming_the_line(tmp_path):
    with pytest.raises(DataError, match=r"c\.tsv: Expected 3 fields in line 3, saw 4"):
        read(write(tmp_path, "c.tsv", "id\tdocument\tlabel\n1\t가\t0\n2\t나\t1\textra\n"), strict=True)


# ----------------------------------------------------------------------------- chunks

def _twenty_rows(tmp_path, fmt):
    docs = [f"리뷰 {n} \"인용\"" if fmt != "csv" else f"리뷰 {n}, 쉼표" for n in range(20)]
    if fmt == "tsv":
        text = "id\tdocument\tlabel\n" + "".join(f"{n}\t{d}\t{n % 2}\n" for n, d in enumerate(docs))
    elif fmt == "csv":
        text = "id,document,label\n" + "".join(f'{n},"{d}",{n % 2}\n' for n, d in enumerate(docs))
    elif fmt == "jsonl":
        text = "".join(json.dumps({"id": n, "document": d, "label": n % 2}, ensure_ascii=False) + "\n"
                       for n, d in enumerate(docs))
    else:
        text = "".join(d + "\n" for d in docs)
    return write(tmp_path, f"twenty.{fmt}", text), docs


@pytest.mark.parametrize("fmt", ["tsv", "csv", "jsonl", "txt"])
def test_chunks_of_seven_over_twenty_rows_are_7_7_6_and_join_to_the_whole(tmp_path, fmt):
    path, docs = _twenty_rows(tmp_path, fmt)
    chunks = list(iter_chunks(open_source(path), "document", chunk_rows=7))
    assert [len(chunk) for chunk in chunks] == [7, 7, 6]
    joined = pd.concat(chunks, ignore_index=True)
    whole = read_comments(open_source(path), "document")
    pd.testing.assert_frame_equal(joined, whole)
    assert whole["document"].tolist() == docs


# ----------------------------------------------------------------------------- where data lives

def _nsmc_train_present():
    return any((folder / f"ratings_train{suffix}").exists() for folder in nsmc_dirs() for suffix in (".txt", ".tsv"))


def test_nsmc_train_is_found_in_the_shared_data_folder():
    if not _nsmc_train_present():
        pytest.skip("no NSMC ratings_train file in data/nsmc or ../shared/data/nsmc (and no network in tests)")
    path = resolve_data_path("nsmc:train")
    assert path.is_file() and path.stem == "ratings_train"
    assert path.parent in nsmc_dirs()


def test_unknown_nsmc_part_is_an_error_listing_the_valid_names():
    with pytest.raises(DataError) as caught:
        resolve_data_path("nsmc:bogus")
    message = str(caught.value)
    assert "'bogus'" in message and "nsmc:train, nsmc:test, nsmc:train3" in message


def test_a_missing_path_is_an_error_saying_file_not_found(tmp_path):
    with pytest.raises(DataError, match=r"missing\.tsv: file not found"):
        resolve_data_path(str(tmp_path / "missing.tsv"))


def test_a_directory_path_is_an_error(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        resolve_data_path(str(tmp_path))


def test_relative_paths_fall_back_to_the_project_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # data/sample_binary.tsv is not here, but is in the project
    path = resolve_data_path("data/sample_binary.tsv")
    assert path.is_absolute() and path.is_file()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sample_binary.tsv").write_text("document\n", encoding="utf-8")
    assert resolve_data_path("data/sample_binary.tsv").resolve() == (tmp_path / "data" / "sample_binary.tsv").resolve()


# ----------------------------------------------------------------------------- labels

@pytest.mark.parametrize("raw, expected", [
    (1, "1"), (1.0, "1"), ("1.0", "1"), (" 1 ", "1"), ("1.", "1"), ("-1.0", "-1"), ("1.5", "1.5"),
    (" positive ", "positive"), ("긍정", "긍정"),
])
def test_normalize_label_makes_1_and_1_0_the_same_and_keeps_other_text(raw, expected):
    assert normalize_label(raw) == expected


@pytest.mark.parametrize("raw, values", [
    ([0, 1, 1, 0], ["0", "1"]),
    ([1.0, 0.0, 1, "0"], ["0", "1"]),
    (["positive", "negative", "positive"], ["negative", "positive"]),
    (["부정", "긍정", "긍정"], ["긍정", "부정"]),
    (["2", "0", "1", "10"], ["0", "1", "2", "10"]),  # numbers in numeric order, not as text
])
def test_labelset_fit_finds_the_classes_in_a_stable_order(raw, values):
    labels = LabelSet.fit(pd.Series(raw, dtype=object))
    assert labels.values == values
    assert labels.names == values


def test_labelset_uses_label_names_from_the_mapping():
    labels = LabelSet.fit(["0", "1", "2", "1"], {"0": "negative", "1": "neutral", "2": "positive"})
    assert labels.values == ["0", "1", "2"]
    assert labels.names == ["negative", "neutral", "positive"]


def test_labelset_names_for_labels_not_in_the_data_are_an_error():
    with pytest.raises(DataError, match=r"data\.label_names names \['5'\]"):
        LabelSet.fit(["0", "1"], {"0": "negative", "5": "five"})


@pytest.mark.parametrize("raw", [["1", "1.0", " 1"], []])
def test_labelset_with_fewer_than_two_classes_is_an_error(raw):
    with pytest.raises(DataError, match="at least two classes"):
        LabelSet.fit(raw, source="train.tsv")


def test_labelset_encode_accepts_values_and_names_and_maps_unknown_to_minus_one():
    labels = LabelSet.fit([0, 1], {"0": "negative", "1": "positive"})
    encoded = labels.encode(["1", 0, 1.0, "positive", " negative ", "2", "neutral", ""])
    assert encoded.tolist() == [1, 0, 1, 1, 0, -1, -1, -1]
    assert encoded.dtype == "int64"


def test_labelset_json_round_trip():
    labels = LabelSet.fit(["부정", "중립", "긍정"], {"긍정": "pos"})
    data = json.loads(json.dumps(labels.to_json(), ensure_ascii=False))
    again = LabelSet.from_json(data)
    assert again == labels
    assert again.encode(["pos", "중립"]).tolist() == labels.encode(["pos", "중립"]).tolist()


# ----------------------------------------------------------------------------- unusable rows

def test_drop_unusable_rows_drops_empty_text_and_missing_labels_and_counts_them(tmp_path):
    path = write(tmp_path, "c.tsv", "id\tdocument\tlabel\n"
                                    "1\t좋다\t1\n"
                                    "2\t\t0\n"
                                    "3\t   \t1\n"
                                    "4\t괜찮네\t\n"
                                    "5\t별로\t \n"
                                    "6\t그냥\tnan\n"
                                    "7\t\t\n"  # both: counted once, as empty text
                                    "8\tnull\t0\n")  # the word null is a comment, not a missing text
    frame = read(path)
    kept, dropped = drop_unusable_rows(frame, "document", "label", "c.tsv")
    assert kept["id"].tolist() == ["1", "8"]
    assert kept.index.tolist() == [0, 1]
    assert dropped == {"empty_text": 3, "missing_label": 3, "unreadable": 0}


def test_drop_unusable_rows_without_the_label_column_names_it(tmp_path):
    frame = read(write(tmp_path, "c.tsv", "id\tdocument\tstars\n1\t좋다\t5\n"))
    with pytest.raises(DataError) as caught:
        drop_unusable_rows(frame, "document", "label", "c.tsv")
    message = str(caught.value)
    assert "'label'" in message and "(the file has: id, document, stars)" in message and "c.tsv" in message


def test_nsmc_is_found_in_either_layout(tmp_path, monkeypatch):
    import app.data.readers as data
    import app.paths

    local, shared = tmp_path / "local", tmp_path / "shared"
    local.mkdir()
    shared.mkdir()
    (shared / "ratings_train.tsv").write_text("id\tdocument\tlabel\n", encoding="utf-8")
    (local / "ratings_test.txt").write_text("id\tdocument\tlabel\n", encoding="utf-8")
    monkeypatch.setattr(app.paths, "nsmc_dirs", lambda: [local, shared])
    assert data.resolve_data_path("nsmc:train") == shared / "ratings_train.tsv"
    assert data.resolve_data_path("nsmc:test") == local / "ratings_test.txt"
