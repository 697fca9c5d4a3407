"""docs/tutorial.ipynb runs, as written, top to bottom, in a fresh kernel."""

import os
import sys
import time
from pathlib import Path

import nbformat
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = PROJECT_ROOT / "docs" / "tutorial.ipynb"
BUDGET_S = 120


def test_the_tutorial_runs_as_written_in_under_two_minutes(tmp_path, monkeypatch):
    # The kernel is this interpreter (the project's venv), whatever python3 kernels the
    # machine has registered: JUPYTER_PATH is searched before the user and system folders.
    write_kernel_spec(tmp_path / "jupyter" / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # The kernel inherits this environment: the conftest's KOSENT_CACHE_DIR keeps the
    # token cache out of the project; TensorFlow stays quiet.
    assert os.environ.get("KOSENT_CACHE_DIR"), "the conftest's token_cache fixture sets it"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")

    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(notebook)
    assert not any(cell.get("outputs") or cell.get("execution_count")
                   for cell in notebook.cells if cell.cell_type == "code"), "the notebook is stored without outputs"

    client = NotebookClient(notebook, timeout=BUDGET_S, kernel_name="python3",
                            resources={"metadata": {"path": str(PROJECT_ROOT)}})
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    elapsed = time.perf_counter() - started
    print(f"the tutorial ran in {elapsed:.1f} s with {sys.executable}")

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs), "the gate heatmap is shown inline"
    assert elapsed < BUDGET_S, f"the tutorial took {elapsed:.0f} s, more than {BUDGET_S} s"
