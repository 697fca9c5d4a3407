// The web page: classify typed comments, explain one, classify a file. It only calls
// this server's own API (no CDN, no other origin); the API key, when the server asks
// for one, stays in this tab (sessionStorage).
"use strict";

const $ = (id) => document.getElementById(id);

function headers(extra = {}) {
  const key = $("api-key").value || sessionStorage.getItem("kosent-api-key") || "";
  if (key) sessionStorage.setItem("kosent-api-key", key);
  return key ? { ...extra, "X-API-Key": key } : extra;
}

async function call(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch (ignored) { /* not JSON */ }
    throw new Error(`${response.status}: ${detail}`);
  }
  return response;
}

function showError(error) {
  $("error").textContent = error ? error.message : "";
  $("error").hidden = !error;
}

async function describeModel() {
  const health = await (await fetch("/healthz")).json();
  $("api-key-field").hidden = !health.api_key_required;
  for (let attempt = 0; attempt < 120; attempt++) {
    try {
      const model = await (await call("/v1/model")).json();
      const accuracy = model.metrics.accuracy === undefined ? "" : `, test accuracy ${model.metrics.accuracy.toFixed(4)}`;
      $("model").textContent = `model ${model.run}: ${model.cell}, ${model.units} units, ` +
        `${model.parameters.toLocaleString()} parameters, classes ${model.labels.join(" / ")}${accuracy}`;
      return;
    } catch (error) {
      $("model").textContent = error.message;
      if (!error.message.startsWith("503")) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

// ---------------------------------------------------------------------------- predictions

async function classify(event) {
  event.preventDefault();
  showError(null);
  const texts = $("texts").value.split("\n").map((line) => line.trim()).filter((line) => line);
  try {
    const body = JSON.stringify({ texts });
    const { predictions } = await (await call("/v1/predict", {
      method: "POST", headers: { "Content-Type": "application/json" }, body })).json();
    showPredictions(texts, predictions);
  } catch (error) {
    showError(error);
  }
}

function showPredictions(texts, predictions) {
  const list = $("results");
  list.replaceChildren();
  texts.forEach((text, index) => {
    const prediction = predictions[index];
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "prediction";
    button.setAttribute("aria-pressed", "false");
    const words = document.createElement("span");
    words.textContent = text;
    const label = document.createElement("span");
    const bar = document.createElement("span");
    if (prediction.status === "ok") {
      label.className = "label";
      label.textContent = prediction.label;
      bar.className = "bar";
      bar.title = `confidence ${prediction.confidence.toFixed(3)}`;
      bar.setAttribute("role", "img");
      bar.setAttribute("aria-label", bar.title);
      const filled = document.createElement("span");
      filled.style.width = `${(100 * prediction.confidence).toFixed(1)}%`;
      bar.append(filled);
      button.addEventListener("click", () => explain(text, button));
    } else {
      label.className = "status";
      label.textContent = prediction.status === "empty" ? "empty" : "no known words";
      button.disabled = true;
    }
    button.append(words, label, bar);
    item.append(button);
    list.append(item);
  });
  const first = list.querySelector("button:not([disabled])");
  if (first) first.focus();
}

// ---------------------------------------------------------------------------- explanations

async function explain(text, button) {
  showError(null);
  document.querySelectorAll("#results button").forEach((other) => other.setAttribute("aria-pressed", "false"));
  button.setAttribute("aria-pressed", "true");
  try {
    const explanation = await (await call("/v1/explain", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, heatmap: true }) })).json();
    showExplanation(explanation);
  } catch (error) {
    showError(error);
  }
}

function showExplanation(explanation) {
  $("explanation").hidden = false;
  $("explanation-summary").textContent = `predicted ${explanation.predicted}; p(${explanation.explained_label}) = ` +
    `${explanation.probability.toFixed(3)} (${explanation.baseline_probability.toFixed(3)} at the baseline)` +
    (explanation.unknown.length ? `; not in the vocabulary: ${explanation.unknown.join(", ")}` : "");
  $("explained-label").textContent = explanation.explained_label;
  const strongest = Math.max(...explanation.scores.map(Math.abs), 1e-12);
  $("tokens").replaceChildren(...explanation.tokens.map((token, index) => {
    const score = explanation.scores[index];
    const span = document.createElement("span");
    span.textContent = token;
    span.title = `${score >= 0 ? "+" : ""}${score.toFixed(4)}`;
    span.tabIndex = 0;
    span.setAttribute("aria-label", `${token} ${span.title}`);
    const colour = score > 0 ? "0, 150, 60" : "210, 40, 40";
    span.style.background = `rgba(${colour}, ${(0.8 * Math.abs(score) / strongest).toFixed(2)})`;
    return span;
  }));
  showGates(explanation);
  $("heatmap").src = `data:image/png;base64,${explanation.heatmap_png}`;
  $("explanation-heading").focus();
}

function showGates(explanation) {
  // The gate table of predict.py --explain: one row per token, each gate averaged over the units
  const trace = explanation.trace;
  const gates = Object.keys(trace.gates);
  const units = gates.length ? trace.gates[gates[0]][0].length : 0;
  $("trace-note").textContent = `${trace.layer}: ` + (gates.length ? `gate activations averaged over ${units} units; ` : "") +
    `${trace.state_label} = ${trace.state_meaning}`;
  const table = $("gates");
  const head = document.createElement("tr");
  for (const name of ["step", ...gates, trace.state_label, "token"]) {
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = name;
    if (name === "token") cell.className = "token";
    head.append(cell);
  }
  const rows = explanation.tokens.map((token, step) => {
    const row = document.createElement("tr");
    row.className = "gate-row";
    const values = gates.map((name) => {
      const activations = trace.gates[name][step];
      return activations.reduce((sum, value) => sum + value, 0) / activations.length;
    });
    const cells = [String(step + 1), ...values.map((value) => value.toFixed(3)), trace.state_norm[step].toFixed(3), token];
    cells.forEach((text, column) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (column >= 1 && column <= gates.length) cell.style.background = `rgba(60, 90, 200, ${(0.6 * values[column - 1]).toFixed(2)})`;
      if (column === cells.length - 1) cell.className = "token";
      row.append(cell);
    });
    return row;
  });
  table.replaceChildren(head, ...rows);
}

// ---------------------------------------------------------------------------- files

async function classifyFile(event) {
  event.preventDefault();
  showError(null);
  const form = new FormData($("file-form"));
  if (!form.get("text_column")) form.delete("text_column");
  $("file-status").textContent = "classifying…";
  try {
    const response = await call("/v1/predict/file", { method: "POST", body: form });
    const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = name ? name[1] : `predictions.${form.get("output")}`;
    link.textContent = `download ${link.download}`;
    $("file-status").replaceChildren("done: ", link);
    link.click();
  } catch (error) {
    $("file-status").textContent = "";
    showError(error);
  }
}

$("predict-form").addEventListener("submit", classify);
$("texts").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("predict-form").requestSubmit();
});
$("file-form").addEventListener("submit", classifyFile);
$("api-key").value = sessionStorage.getItem("kosent-api-key") || "";
describeModel();
