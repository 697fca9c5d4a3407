"""A screenshot of serve.py's web page, as docs/serving.md shows it.

    python -m bench.serve_page --model models/<run> [--output docs/serve.png]   # from the project root

Starts serve.py on a free 127.0.0.1 port, types three comments into the page in
headless Chromium (Debian's, through Playwright, as the tests drive it), classifies
them, explains the lecture comment, and saves the whole page as a PNG.
"""

import argparse
import shutil
import signal
from pathlib import Path

from bench.serve import ROOT, free_port, start_server

COMMENTS = ["배우들 연기가 정말 좋았어요", "시간 아깝다 돈도 아깝고", "사무직은 초근도 못하고 야근수당도 없는데 그런데 생산직은 좋겠죠"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a run directory saved by train.py")
    parser.add_argument("--output", default=str(ROOT / "docs" / "serve.png"), help="default: docs/serve.png")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_server(args.model, port, [])
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                                 args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#model:has-text('model ')")
            page.fill("#texts", "\n".join(COMMENTS))
            page.focus("#texts")
            page.keyboard.press("Control+Enter")
            page.wait_for_selector(f"#results li:nth-child({len(COMMENTS)})")
            page.click(f"#results li:nth-child({len(COMMENTS)}) button")
            page.wait_for_function("document.getElementById('heatmap').naturalWidth > 300")
            page.evaluate("document.fonts.ready.then(() => true)")
            page.screenshot(path=args.output, full_page=True)
            browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    print(f"wrote {Path(args.output)}")


if __name__ == "__main__":
    main()
