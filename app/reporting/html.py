"""A comparison as one self-contained HTML file: opens offline, anywhere, Hangul included.

Figures are embedded as PNG data URIs, and the Korean font matplotlib draws with
(NanumGothic) is embedded too, cut down to the characters the page uses, so the
tables render Hangul even on a machine without Korean fonts. ``page``, ``html_table``
and ``figure_html`` build other reports the same way (a tuning study's).
"""

import base64
import html
import os
import re
import time
from pathlib import Path

from app.modeling.cells import CELLS
from app.reporting.fonts import embedded_font_css
from app.reporting.tables import length_cells, significance_lines, table_cells

NUMBER = re.compile(r"[-+]?[\d,.]+")

STYLE = """
body { font-family: 'Report Hangul', sans-serif; margin: 2em auto; padding: 0 2em; max-width: 1200px; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(2) td { font-weight: bold; background: #eef6ee; }  /* the best model */
code, pre { background: #f4f4f4; padding: 0.1em 0.3em; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #555; font-size: 0.9em; }
"""


def write_report(summary: dict, figures: list[tuple[str, str]], directory: str | os.PathLike, command: str) -> Path:
    """Write ``directory``/report.html and return its path; ``figures`` are (title, PNG file name) pairs in it."""
    directory = Path(directory)
    body = "\n".join([
        "<h1>RNN vs LSTM vs GRU: 댓글 감성 분류 비교</h1>",
        f"<p class='note'>Made {time.strftime('%Y-%m-%d %H:%M')} by <code>{html.escape(command)}</code></p>",
        f"<p>{summary['test_comments']:,} test comments, scored end to end from text by every model"
        + (f" ({summary['left_out']:,} left out: some model had no prediction for them)" if summary["left_out"] else "")
        + ". The best model comes first.</p>",
        html_table(*table_cells(summary)),
        _significance(summary),
        _parameters(summary),
        "<h2>Accuracy by comment length (tokens)</h2>",
        html_table(*length_cells(summary)),
        *(figure_html(title, directory / name) for title, name in figures),
    ])
    path = directory / "report.html"
    path.write_text(page("모델 비교 report", body), encoding="utf-8")
    return path


def page(title: str, body: str) -> str:
    """A whole HTML page around ``body``: the report style, and the Hangul font its text needs, embedded."""
    return ("<!DOCTYPE html>\n<html lang='ko'>\n<head>\n<meta charset='utf-8'>\n"
            f"<title>{html.escape(title)}</title>\n"
            f"<style>{embedded_font_css(title + body)}{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def figure_html(title: str, path: str | os.PathLike) -> str:
    """A heading and the PNG at ``path``, embedded as a data URI."""
    return f"<h2>{html.escape(title)}</h2>\n<img alt='{html.escape(title)}' src='{_data_uri(path)}'>"


def html_table(header: list[str], body: list[list[str]]) -> str:
    """An HTML table of text cells; numbers are right-aligned, words left-aligned."""
    rows = ["<tr>" + "".join(f"<th>{html.escape(cell)}</th>" for cell in header) + "</tr>"]
    rows += ["<tr>" + "".join(f"<td class='{'number' if NUMBER.fullmatch(cell) else 'text'}'>{html.escape(cell)}</td>"
                              for cell in row) + "</tr>" for row in body]
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _significance(summary):
    lines, how = significance_lines(summary)
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines) or "<li>only one model: nothing to test</li>"
    return f"<h2>Is the lead real?</h2>\n<p class='note'>{html.escape(how)}</p>\n<ul>{items}</ul>"


def _parameters(summary):
    """The recurrent parameter counts with their formulas, and the ratios the lectures teach."""
    rows = summary["models"]
    items = [f"<li>{html.escape(row['model'])} ({row['cell']}): {row['recurrent_params']:,} = "
             f"{html.escape(row['recurrent_formula'])}</li>" for row in rows]
    by_cell = {row["cell"]: row["recurrent_params"] for row in rows}
    baseline = by_cell.get("simple_rnn")
    if baseline:
        for cell in by_cell:
            if cell != "simple_rnn":
                items.append(f"<li>{html.escape(cell)} / simple_rnn = {by_cell[cell] / baseline:.2f} "
                             "(the ratio of their gate sets when units and inputs are the same)</li>")
    notes = "; ".join(f"{cell.display_name} {html.escape(cell.note)}" for cell in CELLS)
    return ("<h2>Where the parameters are</h2>\n<p class='note'>i = input features, u = units. "
            f"{notes}.</p>\n<ul>" + "".join(items) + "</ul>")


def _data_uri(path):
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
