"""serve.py: a saved run behind an HTTP API and a web page. Every endpoint and every bad
request through FastAPI's test client; micro-batching with the real model; a real
uvicorn process drained by SIGTERM with a request in flight; the page in headless
Chromium."""

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import PROJECT_ROOT, SAMPLE, fonts_drawing, launch_chromium, needs_chromium

LECTURE = "사무직은 초근도 못하고 야근수당도 없는데 그런데 생산직은 좋겠죠"
KEY = "a-test-key-of-twenty-chars"
LIMITS = dict(max_texts=5, max_chars=200, max_body_bytes=4096, max_upload_bytes=64 * 1024)


@pytest.fixture(scope="module")
def classifier(tiny_run):
    from app import Classifier

    with Classifier.load(tiny_run, workers=1) as loaded:
        yield loaded


def client_for(classifier, **settings):
    """A started TestClient whose app serves ``classifier``, once it is ready."""
    from fastapi.testclient import TestClient

    from app.serving.api import create_app
    from app.serving.settings import ServeSettings

    client = TestClient(create_app(lambda: classifier, ServeSettings(**settings)))
    client.__enter__()
    wait_until_ready(client.get)
    return client


def wait_until_ready(get, seconds=90, server=None):
    """Poll /readyz through ``get`` (a client's get) until it answers 200; a server
    not listening yet is not ready, and a ``server`` process that exits fails at once."""
    import httpx2

    deadline = time.monotonic() + seconds
    while True:
        assert server is None or server.poll() is None, server.stdout.read()
        try:
            if get("/readyz").status_code == 200:
                return
        except httpx2.TransportError:
            pass
        assert time.monotonic() < deadline, "the model did not get ready"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def client(classifier):
    client = client_for(classifier, **LIMITS)
    yield client
    client.__exit__(None, None, None)


def post_json(client, path, body):
    return client.post(path, content=json.dumps(body, ensure_ascii=False).encode(), headers={"content-type": "application/json"})


# ----------------------------------------------------------------------------- predictions

def test_each_text_gets_the_libraries_prediction_in_order(client, classifier):
    texts = ["배우들 연기가 정말 좋았어요", "", "zzzz", "시간 아깝다"]
    response = post_json(client, "/v1/predict", {"texts": texts})
    assert response.status_code == 200
    expected = [{"label": p.label, "confidence": p.confidence, "probabilities": p.probabilities, "status": p.status}
                for p in classifier.predict(texts)]
    assert response.json() == {"predictions": expected}
    assert [p["status"] for p in response.json()["predictions"]] == ["ok", "empty", "no_known_tokens", "ok"]


def test_an_empty_list_gets_an_empty_list(client):
    assert post_json(client, "/v1/predict", {"texts": []}).json() == {"predictions": []}


def test_a_lone_surrogate_is_replaced_not_a_server_error(client):
    response = client.post("/v1/predict", content=b'{"texts": ["\\ud800 \xec\xa2\x8b\xec\x95\x84\xec\x9a\x94"]}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 200 and len(response.json()["predictions"]) == 1


@pytest.mark.parametrize("body, content_type, status, message", [
    (b'{"texts": ["a"', "application/json", 400, "the body is not valid JSON"),
    (b'{"texts": ["a"]}', "text/plain", 415, "content-type must be application/json, not text/plain"),
    (b'{"texts": ["a"]}', None, 415, "content-type must be application/json, not missing"),
    (b'{"texts": "one comment"}', "application/json", 422, "texts: Input should be a valid list"),
    (b'{"texts": ["a", 3]}', "application/json", 422, "texts[1]: Input should be a valid string"),
    (b'{"texts": ["a", null]}', "application/json", 422, "texts[1]: Input should be a valid string"),
    (b'{}', "application/json", 422, "texts: Field required"),
    (b'', "application/json", 422, "body: Field required"),
    (b'["a"]', "application/json", 422, "Input should be a valid dictionary"),
    (b'{"texts": [], "model": "x"}', "application/json", 422, "model: Extra inputs are not permitted"),
    (json.dumps({"texts": ["a"] * 6}).encode(), "application/json", 413, "texts: 6 comments; at most 5 per request"),
    (json.dumps({"texts": ["a", "가" * 201]}).encode(), "application/json", 413, "texts[1]: 201 characters; at most 200"),
    (json.dumps({"texts": ["a" * 5000]}).encode(), "application/json", 413, "the request body is larger than 4,096 bytes"),
])
def test_a_bad_predict_request_gets_a_json_4xx_naming_what_was_wrong(client, body, content_type, status, message):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/predict", content=body, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["detail"]


def test_a_body_without_a_length_is_cut_off_at_the_limit(client):
    def chunks():
        yield b'{"texts": ["'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"]}'

    response = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "larger than 4,096 bytes" in response.json()["detail"]


def test_unknown_paths_and_methods_get_json_errors(client):
    assert client.get("/v2/predict").status_code == 404
    assert client.get("/v2/predict").json() == {"detail": "Not Found"}
    assert client.get("/v1/predict").status_code == 405
    assert "detail" in client.get("/v1/predict").json()
    assert client.post("/v2/predict", content=b"x", headers={"content-type": "text/plain"}).status_code == 404


# ----------------------------------------------------------------------------- explanations

def test_explain_gives_the_word_attributions_and_gate_trace_of_predict_explain(client, classifier):
    response = post_json(client, "/v1/explain", {"text": LECTURE, "heatmap": True})
    assert response.status_code == 200
    body, expected = response.json(), classifier.explain(LECTURE)
    assert body["tokens"] == expected.tokens and body["predicted"] == expected.predicted
    assert body["scores"] == pytest.approx(expected.attribution.scores.tolist(), abs=1e-5)
    assert set(body["trace"]["gates"]) == {"forget", "input", "output"}  # the tiny model is an LSTM
    for activations in body["trace"]["gates"].values():
        assert len(activations) == len(body["tokens"]) and len(activations[0]) == 8  # tokens x units
    assert len(body["trace"]["state_norm"]) == len(body["tokens"]) and body["trace"]["state_label"] == "|c|"
    assert sum(body["scores"]) == pytest.approx(body["probability"] - body["baseline_probability"], abs=0.05)
    import base64

    assert base64.b64decode(body["heatmap_png"]).startswith(b"\x89PNG")
    assert post_json(client, "/v1/explain", {"text": LECTURE}).json()["heatmap_png"] is None  # only when asked


@pytest.mark.parametrize("body, status, message", [
    ({"text": ""}, 422, "nothing to explain (empty)"),
    ({"text": "zzzz"}, 422, "nothing to explain (no token the model's vocabulary knows)"),
    ({"texts": [LECTURE]}, 422, "text: Field required"),
    ({"text": "가" * 201}, 413, "text: 201 characters; at most 200"),
])
def test_a_bad_explain_request_gets_a_json_4xx(client, body, status, message):
    response = post_json(client, "/v1/explain", body)
    assert response.status_code == status and message in response.json()["detail"]


# ----------------------------------------------------------------------------- files

def predict_py_output(run, path, output, *flags):
    """What predict.py writes for ``path``: the reference the service's file must equal."""
    from app.cli.predict import main

    assert main(["--model", str(run), str(path), "-o", str(output), *flags]) == 0
    return output.read_bytes()


def test_an_uploaded_file_gets_the_file_predict_py_writes(client, tiny_run, tmp_path):
    with open(SAMPLE, "rb") as handle:
        response = client.post("/v1/predict/file", files={"file": ("comments.tsv", handle)})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="comments.predictions.csv"' in response.headers["content-disposition"]
    assert response.content == predict_py_output(tiny_run, SAMPLE, tmp_path / "predictions.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))  # a BOM, if predict.py writes one
    assert [row["id"] for row in rows] == [str(i) for i in range(1, 321)]  # every row, in order


def test_a_cp949_csv_with_its_own_text_column_comes_back_as_json_lines_or_cp949(client, tiny_run, tmp_path):
    upload = tmp_path / "survey.csv"
    upload.write_bytes('번호,의견\n1,"배우들 연기가 정말 좋았어요, 최고"\n2,\n3,시간 아깝다\n'.encode("cp949"))
    response = client.post("/v1/predict/file", files={"file": ("survey.csv", upload.read_bytes())},
                           data={"text_column": "의견", "output": "jsonl"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    expected = predict_py_output(tiny_run, upload, tmp_path / "predictions.jsonl", "--text-column", "의견")
    assert response.content == expected
    assert [json.loads(line)["status"] for line in response.text.splitlines()] == ["ok", "empty", "ok"]
    # and back in CP949, for Excel on Korean Windows, as predict.py --output-encoding cp949 writes it
    response = client.post("/v1/predict/file", files={"file": ("survey.csv", upload.read_bytes())},
                           data={"text_column": "의견", "output_encoding": "cp949"})
    assert response.headers["content-type"] == "text/csv; charset=cp949"
    assert response.content == predict_py_output(tiny_run, upload, tmp_path / "predictions.csv", "--text-column", "의견",
                                                 "--output-encoding", "cp949")
    assert "배우들 연기가 정말 좋았어요, 최고" in response.content.decode("cp949")


@pytest.mark.parametrize("name, content, data, status, message", [
    ("comments.csv", b"id,text\n1,hello\n", {}, 422,
     "comments.csv: no column 'document' (the file has: id, text); name the column that holds the comments"),
    ("comments.xlsx", b"PK\x03\x04", {}, 415, "comments.xlsx: cannot tell the format from ''; give its format"),
    ("comments.txt", "좋아요\n".encode("utf-16-le"), {"encoding": "utf-8"}, 422, "comments.txt: line 1: byte 0x"),
    ("comments.tsv", b"document\n", {"encoding": "klingon"}, 422, "unknown encoding 'klingon'"),
    ("comments.tsv", b"document\n", {"output": "xlsx"}, 422, "output: Input should be 'csv', 'tsv' or 'jsonl'"),
    ("comments.tsv", b"id\tdocument\n1\ta\tb\n", {}, 422, "comments.tsv: line 2 has more fields than the header"),
    ("../../etc/passwd.csv", b"document\n", {"text_column": "x"}, 422, "passwd.csv: no column 'x'"),
    ("big.txt", b"a\n" * 40_000, {}, 413, "the upload is larger than 65,536 bytes"),
])
def test_a_bad_upload_gets_a_json_4xx_naming_the_clients_file_not_a_server_path(client, name, content, data, status, message):
    response = client.post("/v1/predict/file", files={"file": (name, content)}, data=data)
    assert response.status_code == status
    detail = response.json()["detail"]
    assert message in detail
    assert "kosent-upload" not in detail and "/tmp" not in detail


def test_an_upload_must_be_multipart_with_a_file(client):
    response = client.post("/v1/predict/file", content=b"document\nhello\n", headers={"content-type": "text/csv"})
    assert response.status_code == 415 and "multipart/form-data" in response.json()["detail"]
    response = client.post("/v1/predict/file", data={"output": "csv"}, files={"other": ("a.txt", b"a")})
    assert response.status_code == 422 and "file: Field required" in response.json()["detail"]


# ----------------------------------------------------------------------------- the model, health, metrics, docs

def test_the_model_endpoint_describes_the_run_but_not_where_it_lives(client, classifier, tiny_run):
    body = client.get("/v1/model").json()
    assert body["run"] == "tiny" and body["labels"] == ["negative", "positive"] and body["cell"] == "lstm"
    assert body["parameters"] == classifier.run.model.count_params() and body["units"] == 8
    assert body["metrics"] == classifier.run.metrics
    assert {"kosent", "tensorflow", "keras", "fastapi", "python-mecab-ko"} <= set(body["versions"])
    assert str(tiny_run) not in json.dumps(body, ensure_ascii=False)


def test_ready_only_once_the_model_is_loaded_alive_from_the_start(classifier):
    from fastapi.testclient import TestClient

    from app.serving.api import create_app

    loaded = threading.Event()

    def slow_load():
        loaded.wait(30)
        return classifier

    with TestClient(create_app(slow_load)) as client:
        assert client.get("/healthz").json() == {"status": "alive", "api_key_required": False}
        assert client.get("/readyz").status_code == 503
        response = post_json(client, "/v1/predict", {"texts": ["a"]})
        assert response.status_code == 503 and "still loading" in response.json()["detail"]
        loaded.set()
        wait_until_ready(client.get)
        assert post_json(client, "/v1/predict", {"texts": ["재밌어요"]}).status_code == 200


def test_a_model_that_fails_to_load_is_reported_by_readyz(tmp_path):
    from fastapi.testclient import TestClient

    from app import Classifier
    from app.serving.api import create_app

    with TestClient(create_app(lambda: Classifier.load(tmp_path / "nothing-here"))) as client:
        deadline = time.monotonic() + 10
        while "could not be loaded" not in (detail := client.get("/readyz").json()["detail"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "not a model directory" in detail
        assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_errors_latency_and_batch_sizes(client):
    post_json(client, "/v1/predict", {"texts": ["재밌어요", "별로"]})
    post_json(client, "/v1/predict", {"texts": ["a"] * 6})
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'kosent_requests_total{route="/v1/predict",status="200"}' in text
    assert 'kosent_request_errors_total{route="/v1/predict",status="413"}' in text
    assert 'kosent_request_seconds_bucket{le="0.025",route="/v1/predict"}' in text
    assert "kosent_batch_comments_count" in text and "kosent_comments_total" in text


def test_docs_and_the_page_need_nothing_from_the_internet(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    for asset in ("/static/docs/swagger-ui-bundle.js", "/static/docs/swagger-ui.css"):
        assert f"'{asset}'" in docs.text or f'"{asset}"' in docs.text
        assert client.get(asset).status_code == 200
    assert "cdn." not in docs.text and "<script src=\"http" not in docs.text
    for path in ("/", "/static/page.js", "/static/page.css"):
        response = client.get(path)
        assert response.status_code == 200 and "http://" not in response.text and "https://" not in response.text
    assert client.get("/static/hangul.ttf").content[:4] == b"\x00\x01\x00\x00"  # TrueType
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/predict", "/v1/explain", "/v1/predict/file", "/v1/model", "/healthz", "/readyz", "/metrics"} <= set(paths)


# ----------------------------------------------------------------------------- security

@pytest.fixture(scope="module")
def keyed(classifier):
    client = client_for(classifier, api_key=KEY)
    yield client
    client.__exit__(None, None, None)


@pytest.mark.parametrize("path", ["/v1/model", "/metrics"])
def test_with_an_api_key_every_endpoint_but_the_health_checks_and_page_needs_it(keyed, path):
    assert keyed.get(path).status_code == 401
    assert "missing or wrong API key" in keyed.get(path).json()["detail"]
    assert keyed.get(path, headers={"X-API-Key": "wrong" * 5}).status_code == 401
    assert keyed.get(path, headers={"X-API-Key": KEY}).status_code == 200
    assert keyed.get(path, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    for public in ("/healthz", "/readyz", "/", "/docs", "/openapi.json", "/static/page.js"):
        assert keyed.get(public).status_code == 200
    assert post_json(keyed, "/v1/predict", {"texts": ["a"]}).status_code == 401
    assert keyed.post("/v1/predict/file", files={"file": ("a.txt", b"a")}).status_code == 401


def test_no_cors_unless_asked_for_and_then_the_preflight_needs_no_key(client, classifier):
    preflight = {"Origin": "https://dashboard.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type, x-api-key"}
    assert "access-control-allow-origin" not in client.options("/v1/predict", headers=preflight).headers
    allowed = client_for(classifier, cors_origins=("https://dashboard.example",), api_key=KEY)
    try:
        answer = allowed.options("/v1/predict", headers=preflight)  # a browser sends no key with it
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://dashboard.example"
        assert post_json(allowed, "/v1/predict", {"texts": ["a"]}).status_code == 401  # the request itself needs it
    finally:
        allowed.__exit__(None, None, None)


def test_binding_beyond_loopback_needs_an_api_key(tiny_run, capsys, monkeypatch):
    from app.cli.serve import main

    monkeypatch.delenv("KOSENT_API_KEY", raising=False)
    assert main(["--model", str(tiny_run), "--host", "0.0.0.0"]) == 2
    assert "error: host '0.0.0.0' is reachable from other machines: it needs an API key (--api-key or KOSENT_API_KEY)" \
        in capsys.readouterr().err
    assert main(["--model", str(tiny_run), "--host", "0.0.0.0", "--api-key", "short"]) == 2
    assert "api_key must be at least 16 characters" in capsys.readouterr().err
    assert main(["--model", str(tiny_run.parent / "tinny")]) == 2
    assert "did you mean" in capsys.readouterr().err


# ----------------------------------------------------------------------------- micro-batching

def test_concurrent_requests_are_scored_in_one_model_call_each_getting_its_own_rows(classifier):
    from app.serving.batcher import MicroBatcher

    calls = []

    def score(texts):
        calls.append(len(texts))
        return classifier.predict(texts)

    requests = [texts for i in range(4) for texts in ([f"재밌어요 {i}"], ["시간 아깝다", ""], ["배우들 연기가 정말 좋았어요"] * 3)]
    batcher = MicroBatcher(score, max_batch=64, max_wait=0.5)
    futures = [batcher.submit(texts) for texts in requests]
    results = [future.result(timeout=30) for future in futures]
    batcher.close()
    assert calls == [sum(map(len, requests))]  # one model call for all 12 requests
    assert results == [classifier.predict(texts) for texts in requests]


def test_max_batch_1_scores_each_request_alone_and_no_request_is_split(classifier):
    from app.serving.batcher import MicroBatcher

    calls = []
    batcher = MicroBatcher(lambda texts: calls.append(len(texts)) or classifier.predict(texts), max_batch=1, max_wait=0.1)
    futures = [batcher.submit(["재밌어요"] * size) for size in (3, 1, 2)]
    assert [len(future.result(timeout=30)) for future in futures] == [3, 1, 2]
    batcher.close()
    assert calls == [3, 1, 2]


# ----------------------------------------------------------------------------- a real server

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_real_server_drains_on_sigterm_finishing_the_request_in_flight(tiny_run):
    import httpx2

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "serve.py", "--model", str(tiny_run), "--port", str(port)],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    try:
        with httpx2.Client(base_url=base, timeout=30) as client:
            wait_until_ready(client.get, server=server)
            assert client.post("/v1/predict", json={"texts": ["재밌어요"]}).json()["predictions"][0]["status"] == "ok"

            # An upload sent slowly: in flight when SIGTERM arrives, it must still be answered in full
            lines = SAMPLE.read_bytes().splitlines(keepends=True)
            half_sent, signalled = threading.Event(), threading.Event()

            def slow_body():
                yield b"".join(lines[:100])
                half_sent.set()
                signalled.wait(30)
                yield b"".join(lines[100:])

            answer = {}

            def upload():
                files = {"file": ("comments.tsv", _Stream(slow_body()), "text/tab-separated-values")}
                answer["response"] = httpx2.post(f"{base}/v1/predict/file", files=files, timeout=60)

            uploading = threading.Thread(target=upload)
            uploading.start()
            assert half_sent.wait(30)
            time.sleep(0.5)  # the server has the request's start
            server.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while (refused := httpx2.get(f"{base}/v1/model", timeout=10)).status_code != 503:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert "shutting down" in refused.json()["detail"]
            assert httpx2.get(f"{base}/readyz", timeout=10).status_code == 503
            signalled.set()
            uploading.join(60)
        response = answer["response"]
        assert response.status_code == 200
        assert len(list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))) == 320
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


class _Stream:
    """A file-like upload whose bytes come from a generator, as they are produced."""

    def __init__(self, chunks):
        self.chunks, self.name = chunks, "comments.tsv"

    def read(self, size=-1):
        return next(self.chunks, b"")

    def __iter__(self):
        return self.chunks


# ----------------------------------------------------------------------------- the web page

@pytest.fixture(scope="module")
def live_server(classifier):
    """The app on uvicorn in a thread (the process's model, no second load), on a free loopback port."""
    import uvicorn

    from app.serving.api import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(lambda: classifier), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    import httpx2

    base = f"http://127.0.0.1:{port}"
    wait_until_ready(lambda path: httpx2.get(base + path))
    yield base
    server.should_exit = True
    thread.join(30)


@needs_chromium
def test_the_page_classifies_explains_and_predicts_a_file_with_the_keyboard(live_server, tmp_path):
    import httpx2
    from playwright.sync_api import sync_playwright

    expected = httpx2.post(f"{live_server}/v1/predict", json={"texts": [LECTURE]}).json()["predictions"][0]
    explained = httpx2.post(f"{live_server}/v1/explain", json={"text": LECTURE}).json()
    upload = tmp_path / "three.csv"
    upload.write_text("번호,document\n1,배우들 연기가 정말 좋았어요\n2,\n3,시간 아깝다\n", encoding="utf-8")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(accept_downloads=True)
        origins = set()
        page.on("request", lambda request: origins.add(request.url.split("/")[2]))
        page.goto(live_server)
        page.wait_for_selector("#model:has-text('model tiny')")
        page.focus("#texts")
        page.keyboard.type(LECTURE)
        page.keyboard.press("Control+Enter")
        page.wait_for_selector("#results li")
        shown_label = page.text_content("#results li .label")
        page.keyboard.press("Enter")  # the first result has the focus: explain it
        page.wait_for_selector("#gates tr.gate-row")
        tokens = page.eval_on_selector_all("#tokens span", "spans => spans.map(span => span.textContent)")
        gate_rows = page.eval_on_selector_all("#gates tr.gate-row", "rows => rows.map(row => row.lastChild.textContent)")
        header = page.eval_on_selector_all("#gates th", "cells => cells.map(cell => cell.textContent)")
        page.wait_for_function("document.getElementById('heatmap').naturalWidth > 300")
        page.evaluate("document.fonts.ready.then(() => true)")
        hangul_fonts = fonts_drawing(page, "h1 span")
        page.set_input_files("#file", str(upload))
        with page.expect_download() as download_info:
            page.click("#file-button")
        downloaded = tmp_path / "downloaded.csv"
        download_info.value.save_as(downloaded)
        page.screenshot(path=tmp_path / "page.png", full_page=True)
        page.goto(f"{live_server}/docs")  # Swagger UI, from the app's own files, renders every endpoint
        page.wait_for_selector("#operations-model-predict_v1_predict_post")
        operations = page.eval_on_selector_all(".opblock-summary-path", "paths => paths.map(path => path.textContent)")
        browser.close()
    assert shown_label == expected["label"]
    assert tokens == explained["tokens"] and gate_rows == explained["tokens"]
    assert header == ["step", "forget", "input", "output", "|c|", "token"]
    assert any(font["familyName"] == "NanumGothic" and font["isCustomFont"] for font in hangul_fonts), hangul_fonts
    rows = list(csv.DictReader(io.StringIO(downloaded.read_text(encoding="utf-8-sig"))))
    assert [row["번호"] for row in rows] == ["1", "2", "3"] and [row["status"] for row in rows] == ["ok", "empty", "ok"]
    assert {"/v1/predict", "/v1/explain", "/v1/predict/file", "/v1/model"} <= {path.replace("\u200b", "") for path in operations}
    assert origins == {live_server.split("/")[2]}  # nothing fetched from anywhere else, the docs included
    assert (tmp_path / "page.png").stat().st_size > 30_000


# ----------------------------------------------------------------------------- the load test

def test_the_load_test_is_bounded_stops_by_itself_and_writes_its_results(tiny_run, tmp_path):
    output = tmp_path / "serve.json"
    result = subprocess.run([sys.executable, "bench/serve.py", "--model", str(tiny_run), "--duration", "0.3",
                             "--max-requests", "50", "--comments", str(SAMPLE), "--modes", "on", "--ceiling-seconds", "0",
                             "--output", str(output)],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    (mode,) = json.loads(output.read_text(encoding="utf-8"))["modes"]
    assert [(s["clients"], s["comments_per_request"]) for s in mode["scenarios"]] == [(1, 1), (8, 1), (32, 1), (8, 100)]
    assert all(s["errors"] == 0 and 0 < s["requests"] <= 50 for s in mode["scenarios"])  # bounded in requests
    assert mode["exit_status_after_sigterm"] == 0
    assert "| on | 32 | 1 |" in result.stdout


# ----------------------------------------------------------------------------- scoring with onnxruntime

ONNX_SERVER = """
import json, sys
from fastapi.testclient import TestClient
from app.inference.classifier import Classifier
from app.serving.api import create_app
texts = json.loads(sys.argv[2])
with TestClient(create_app(lambda: Classifier.load(sys.argv[1], runtime="onnx"))) as client:
    while client.get("/readyz").status_code != 200:
        pass
    answers = {"predict": client.post("/v1/predict", json={"texts": texts}).json(),
               "model": client.get("/v1/model").json(),
               "explain": [(r.status_code, r.json()) for r in [client.post("/v1/explain", json={"text": texts[0]})]][0],
               "font": client.get("/static/hangul.ttf").status_code}
print(json.dumps({**answers, "tensorflow_imported": "tensorflow" in sys.modules}))
"""


def test_with_runtime_onnx_the_server_scores_as_keras_without_importing_tensorflow(exported_tiny_run, classifier):
    run = exported_tiny_run
    texts = ["배우들 연기가 정말 좋았어요", LECTURE, "", "ㅋ"]
    done = subprocess.run([sys.executable, "-c", ONNX_SERVER, str(run), json.dumps(texts)], capture_output=True,
                          text=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    assert answers["tensorflow_imported"] is False and answers["font"] == 200
    expected = classifier.predict(texts)
    for got, want in zip(answers["predict"]["predictions"], expected):
        assert got["status"] == want.status and got["label"] == want.label
        assert got["confidence"] == pytest.approx(want.confidence, abs=1e-5)
    model = answers["model"]
    assert model["runtime"] == "onnx" and model["weights"] == "float32"
    assert model["parameters"] == classifier.run.model.count_params()
    status, body = answers["explain"]
    assert status == 409 and "--runtime keras" in body["detail"]


def test_serve_py_with_runtime_onnx_and_no_export_says_how_to_make_one(tiny_run, capsys):
    from app.cli.serve import main

    assert main(["--model", str(tiny_run), "--runtime", "onnx"]) != 0
    assert f"python -m app.export --model {tiny_run} --format onnx" in capsys.readouterr().err
