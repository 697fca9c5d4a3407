"""The HTTP API (FastAPI): predictions, explanations, file predictions, the model's
description, health checks, metrics, the web page and its offline /docs.

    app = create_app(lambda: Classifier.load("models/<run>"), ServeSettings())

Every client mistake is a JSON ``{"detail": "..."}`` with a 4xx status naming what
was wrong: 400 a body that is not JSON, 401 a missing API key, 413 a limit passed,
415 a wrong content type or an unknown file format, 422 a field or file that does not
fit, 409 what this server's model cannot do (explain, when it scores with onnxruntime).
The model runs in worker threads, never on the event loop.
"""

import asyncio
import base64
import contextlib
import dataclasses
import functools
import io
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from app.data.readers import FORMATS, iter_chunks, open_source, valid_text
from app.data.writers import OutputWriter
from app.errors import DataError
from app.serving.guard import Guard
from app.serving.service import Service, Unavailable
from app.serving.settings import ServeSettings

if TYPE_CHECKING:
    from app.inference.classifier import Classifier
    from app.interpret.attribution import Explanation

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
OUTPUT_TYPES = {"csv": "text/csv", "tsv": "text/tab-separated-values", "jsonl": "application/x-ndjson"}
VERSIONED = ("kosent", "tensorflow", "keras", "onnxruntime", "fastapi", "uvicorn")
_drawing = threading.Lock()  # pyplot's figure manager is shared by all threads


# ----------------------------------------------------------------------------- request and response bodies

class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(description="comments to classify; an empty list gets an empty list",
                             examples=[["배우들 연기가 정말 좋았어요", "시간 아깝다"]])


class PredictionOut(BaseModel):
    label: str | None = Field(description="the predicted class name; null unless status is ok")
    confidence: float | None = Field(description="the predicted class's probability")
    probabilities: dict[str, float] | None = Field(description="class name -> probability")
    status: Literal["ok", "empty", "no_known_tokens"]


class PredictResponse(BaseModel):
    predictions: list[PredictionOut] = Field(description="one per text, in order")


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(examples=["사무직은 초근도 못하고 야근수당도 없는데 그런데 생산직은 좋겠죠"])
    heatmap: bool = Field(False, description="also draw the gate heatmap (a PNG, base64) as predict.py --explain does")


class GateTraceOut(BaseModel):
    layer: str = Field(description="the recurrent layer traced (the first one)")
    gates: dict[str, list[list[float]]] = Field(description="gate name -> activations, tokens x units (none for a SimpleRNN)")
    state_label: str = Field(description="|c| for an LSTM, else |Δh|")
    state_meaning: str
    state_norm: list[float] = Field(description="one value per token")


class ExplainResponse(BaseModel):
    text: str
    tokens: list[str] = Field(description="the tokens the model saw, in order")
    unknown: list[str] = Field(description="tokens the vocabulary does not know (the model sees <oov>)")
    predicted: str
    explained_label: str = Field(description="the class the scores point to: the second of two, else the predicted one")
    probability: float = Field(description="the explained class's probability")
    baseline_probability: float = Field(description="the same with every token at the baseline; scores sum to the difference")
    scores: list[float] = Field(description="integrated-gradients score per token: > 0 pushed towards explained_label")
    trace: GateTraceOut
    heatmap_png: str | None = Field(None, description="with heatmap: the gate heatmap, base64 PNG")


# ----------------------------------------------------------------------------- the app

def create_app(load: Callable[[], "Classifier"], settings: ServeSettings | None = None) -> FastAPI:
    """The service for the Classifier ``load()`` returns (called in a background thread at start-up)."""
    service = Service(load, settings or ServeSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        yield
        await asyncio.to_thread(service.stop)

    app = FastAPI(title="kosent", summary="Korean comment sentiment: a saved run behind an HTTP API",
                  version=metadata.version("kosent"), lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.service = service
    _add_error_handlers(app)
    _add_routes(app, service)
    _add_pages(app)
    if service.settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(service.settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-API-Key", "Authorization"])
    app.add_middleware(Guard, service=service)  # the outermost: it sees every request first
    return app


def _add_routes(app: FastAPI, service: Service) -> None:
    settings = service.settings

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict:
        """Alive (the process answers), whether or not the model is loaded."""
        return {"status": "alive", "api_key_required": bool(settings.api_key)}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "loading, failed to load, or shutting down"}})
    async def readyz() -> dict:
        """Ready: the model is loaded and predicts."""
        service.model()
        return {"status": "ready"}

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def metrics() -> Response:
        """Requests, latency, errors and batch sizes, in Prometheus's text format."""
        return Response(service.metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/v1/model", tags=["model"])
    async def model() -> dict:
        """The run being served: its name, labels, cell, parameters, test metrics and library versions."""
        return model_info(service.model())

    @app.post("/v1/predict", tags=["model"], response_model=PredictResponse)
    async def predict(body: PredictRequest) -> JSONResponse:
        """One prediction per text, in order, as predict.py gives them."""
        texts = checked_texts(body.texts, settings, "texts")
        predictions = await service.predict(texts) if texts else []
        # A response as it is: FastAPI would otherwise check it against PredictResponse again, at a cost per request
        return JSONResponse({"predictions": [dataclasses.asdict(prediction) for prediction in predictions]})

    @app.post("/v1/explain", tags=["model"], response_model=ExplainResponse,
              responses={409: {"description": "the server scores with onnxruntime: explaining needs --runtime keras"}})
    async def explain(body: ExplainRequest) -> dict:
        """Word attributions and the gate trace of one comment, as predict.py --explain shows them."""
        text = checked_texts([body.text], settings, "text")[0]
        classifier = service.model()
        if classifier.runtime != "keras":
            raise HTTPException(409, f"explanations need the Keras model; this server scores with {classifier.runtime} "
                                     f"(serve.py --runtime keras explains)")
        return await service.in_thread(lambda: explanation_json(classifier.explain(text), body.heatmap))

    @app.post("/v1/predict/file", tags=["model"], response_class=FileResponse,
              responses={200: {"description": "the file predict.py -o writes: every row, in order, plus label, "
                               "confidence, p_<class> and status", "content": {t: {} for t in OUTPUT_TYPES.values()}}})
    async def predict_file(
        file: Annotated[UploadFile, File(description=".csv, .tsv, .jsonl or .txt, as predict.py reads them")],
        text_column: Annotated[str | None, Form(description="the column holding the comments (default: the model's)")] = None,
        format: Annotated[Literal["tsv", "csv", "jsonl", "txt"] | None, Form(description="default: by the file's extension")] = None,
        encoding: Annotated[str | None, Form(description="default: detect UTF-8, UTF-8/16 BOM, CP949")] = None,
        encoding_errors: Annotated[Literal["strict", "replace"], Form()] = "strict",
        output: Annotated[Literal["csv", "tsv", "jsonl"], Form(description="the answer's format")] = "csv",
        output_encoding: Annotated[Literal["utf-8", "utf-8-sig", "cp949"] | None,
                                   Form(description="the answer's encoding (default: predict.py's, utf-8-sig for csv and "
                                                    "tsv so Excel reads Hangul, utf-8 for jsonl)")] = None,
    ) -> FileResponse:
        """Predictions for an uploaded file, answered with the file predict.py writes."""
        classifier = service.model()
        name = Path(file.filename or "upload").name
        folder = Path(tempfile.mkdtemp(prefix="kosent-upload-"))
        try:
            suffix = Path(name).suffix.lower()
            upload = folder / f"upload{suffix if suffix in FORMATS else ''}"  # never the client's name: no path from it
            await service.in_thread(_save_upload, file, upload)
            written = await service.in_thread(lambda: predict_upload(
                classifier, upload, name, folder / f"predictions.{output}", text_column, output_encoding,
                format=format, encoding=encoding, errors=encoding_errors))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        charset = "cp949" if output_encoding == "cp949" else "utf-8"
        return FileResponse(written, media_type=f"{OUTPUT_TYPES[output]}; charset={charset}", filename=f"{Path(name).stem}.predictions.{output}",
                            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


def _add_pages(app: FastAPI) -> None:
    """The web page at /, its assets (the Hangul font included) and /docs, all served here: nothing from a CDN."""
    docs_assets = resources.files("fastapi_offline") / "static"  # Swagger UI, packaged
    app.mount("/static/docs", StaticFiles(directory=str(docs_assets)), name="docs-assets")

    @functools.cache
    def font() -> bytes:  # made on first use: matplotlib and fontTools are slow to import at start-up
        from app.reporting.fonts import hangul_font_for_browsers

        return hangul_font_for_browsers()

    @app.get("/static/hangul.ttf", include_in_schema=False)
    async def hangul_font() -> Response:
        return Response(await asyncio.to_thread(font), media_type="font/ttf", headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="kosent API",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css",
                                   swagger_favicon_url="/static/docs/favicon.png")


def _add_error_handlers(app: FastAPI) -> None:
    def answer(status: int, message: str) -> JSONResponse:
        return JSONResponse({"detail": message}, status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        broken = next((p for p in problems if p["type"] == "json_invalid"), None)
        if broken:
            return answer(400, f"the body is not valid JSON: {broken.get('ctx', {}).get('error', 'decode error')} "
                               f"at character {broken['loc'][-1]}")
        return answer(422, "; ".join(_describe(problem) for problem in problems[:5]))

    @app.exception_handler(DataError)
    async def bad_data(request: Request, error: DataError) -> JSONResponse:
        return answer(415 if error.parameter == "format" else 422, str(error))

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, error: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, 503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:  # logged with its traceback, never sent
        log.error("unexpected error on %s", request.url.path, exc_info=error)
        return answer(500, "internal error; the server's log has the details")


def _describe(problem: dict) -> str:
    """``texts[2]: Input should be a valid string`` from one of pydantic's errors."""
    where = ""
    for part in problem["loc"][1:] if problem["loc"][:1] == ("body",) else problem["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    if problem["type"] == "missing" and not where:
        where = "body"
    expected = " (expected {\"texts\": [\"...\"]} or {\"text\": \"...\"})" if where == "body" else ""
    return f"{where or 'body'}: {problem['msg']}{expected}"


# ----------------------------------------------------------------------------- the work

def checked_texts(texts: list[str], settings: ServeSettings, field: str) -> list[str]:
    """``texts`` within the limits (else a 413 naming the field), lone surrogates replaced
    (JSON escapes may hold them; no tokenizer takes them)."""
    if len(texts) > settings.max_texts:
        raise HTTPException(413, f"{field}: {len(texts):,} comments; at most {settings.max_texts:,} per request")
    for number, text in enumerate(texts):
        if len(text) > settings.max_chars:
            where = f"{field}[{number}]" if field == "texts" else field
            raise HTTPException(413, f"{where}: {len(text):,} characters; at most {settings.max_chars:,} per comment")
    return [valid_text(text) for text in texts]


def _save_upload(file: UploadFile, path: Path) -> None:
    file.file.seek(0)
    with open(path, "wb") as handle:
        shutil.copyfileobj(file.file, handle)


def predict_upload(classifier: "Classifier", upload: Path, name: str, output: Path, text_column: str | None,
                   output_encoding: str | None, **reading: Any) -> Path:
    """Predict every row of the file ``upload`` into ``output`` as predict.py does (same
    readers, encodings, errors and writer; ``reading``: open_source's format, encoding
    and errors). Errors name the file as ``name``, never its path on the server."""
    from app.inference.classifier import with_predictions

    text_column = text_column or classifier.run.config.data.text_column
    try:
        source = open_source(upload, text_column=text_column, **reading)
        chunks = iter_chunks(source, text_column)
        with OutputWriter(output, output.suffix[1:], output_encoding) as writer:
            for chunk, probabilities, status in classifier.predict_chunks(chunks, text_column):
                writer.write(with_predictions(chunk, classifier.labels, probabilities, status))
    except DataError as error:
        raise DataError(str(error).replace(str(upload), name), parameter=error.parameter) from None
    return output


def model_info(classifier: "Classifier") -> dict:
    """What GET /v1/model answers (the run's name, not its path on the server)."""
    run = classifier.run
    versions = {}
    for package in VERSIONED:  # a deployment scoring with onnxruntime may have no TensorFlow installed
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    library = run.tokenizer.settings()["library"]
    return {
        "run": run.path.name,
        "labels": classifier.labels,
        "cell": run.config.model.cell,
        "layers": run.config.model.layers,
        "units": run.config.model.units,
        "bidirectional": run.config.model.bidirectional,
        "parameters": sum(row["params"] for row in run.params),
        "runtime": classifier.runtime,
        "weights": classifier.exported.weights if classifier.exported else "float32",  # int8: --quantize int8
        "text_column": run.config.data.text_column,
        "max_length": run.config.vocab.max_length,
        "tokenizer": run.tokenizer.backend,
        "metrics": run.metrics,
        "versions": {**versions, **dict(part.split("==") for part in (library or "").split(", ") if part)},
    }


def explanation_json(explanation: "Explanation", heatmap: bool) -> dict:
    """An Explanation as JSON (the ExplainResponse body)."""
    trace, attribution = explanation.trace, explanation.attribution
    state_label, state_meaning, state_norm = trace.state_norm()
    body = {
        "text": explanation.text, "tokens": list(explanation.tokens), "unknown": list(explanation.unknown),
        "predicted": explanation.predicted, "explained_label": explanation.label,
        "probability": round(attribution.probability, 6),
        "baseline_probability": round(attribution.baseline_probability, 6),
        "scores": [round(float(score), 6) for score in attribution.scores],
        "trace": {"layer": trace.layer, "gates": {name: values.round(4).tolist() for name, values in trace.gates.items()},
                  "state_label": state_label, "state_meaning": state_meaning,
                  "state_norm": [round(float(value), 4) for value in state_norm]},
        "heatmap_png": None,
    }
    if heatmap:
        body["heatmap_png"] = _heatmap_png(explanation)
    return body


def _heatmap_png(explanation: "Explanation") -> str:
    from app.interpret.gates import draw_gates, plt

    with _drawing:
        figure = draw_gates(explanation.trace, explanation.tokens, f"predicted {explanation.predicted}")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
        plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
