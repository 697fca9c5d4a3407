"""The Hangul font pages use: NanumGothic, the font matplotlib draws Hangul with here,
embedded in a report or served to a browser. Only matplotlib and fontTools are needed,
so a server scoring with onnxruntime sends it without loading TensorFlow."""

import base64
import io
import logging

from matplotlib import font_manager

FONT_FAMILY = "NanumGothic"


def embedded_font_css(text: str) -> str:
    """A CSS @font-face rule for 'Report Hangul': the font, inside the page, for ``text``."""
    font = base64.b64encode(hangul_font_subset(text)).decode("ascii")
    return f"@font-face {{ font-family: 'Report Hangul'; src: url(data:font/ttf;base64,{font}) format('truetype'); }}"


def hangul_font_subset(text: str) -> bytes:
    """NanumGothic (the font matplotlib uses here) cut to the characters of ``text``, as TTF bytes."""
    from fontTools import subset

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # it lists every table it drops
    path = hangul_font_path()
    options = subset.Options()
    font = subset.load_font(path, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()


def hangul_font_for_browsers() -> bytes:
    """The whole of NanumGothic as TTF bytes a browser accepts: without its VTT source
    tables (TSI*), which Chromium's font sanitizer rejects as malformed."""
    from fontTools.ttLib import TTFont

    font = TTFont(hangul_font_path(), lazy=True, recalcBBoxes=False, recalcTimestamp=False)
    for tag in [tag for tag in font.keys() if tag.startswith("TSI")]:
        del font[tag]
    buffer = io.BytesIO()
    font.save(buffer, reorderTables=False)  # the other tables are copied as they are
    return buffer.getvalue()


def hangul_font_path() -> str:
    """The NanumGothic file koreanize-matplotlib bundles: the font matplotlib draws Hangul with."""
    import koreanize_matplotlib  # noqa: F401 - registers NanumGothic with matplotlib

    return font_manager.findfont(font_manager.FontProperties(family=FONT_FAMILY), fallback_to_default=False)
