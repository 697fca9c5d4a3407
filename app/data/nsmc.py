"""The NSMC corpus (github.com/e9t/nsmc, CC0): where its files are, the compact sample
bundled in data/nsmc-sample, and fetching e9t/nsmc.

e9t/nsmc publishes the two labeled files and the raw crawl they were drawn from
(raw/<movie>.json, 712K rated reviews). The other two parts the configs use are
derived from that crawl, the same way every time (``derive``):

    ratings3_sample    8,000 reviews a class: 0 = rating 1-4, 1 = 5-8, 2 = 9-10
    unlabeled_reviews  every other review of the crawl, one a line

Both leave out every review of the labeled files (by id and by text), and neither
holds a review of the other.
"""

import functools
import json
import logging
import re
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app import paths
from app.errors import DataError
from app.files import AtomicDirectory
from app.logs import PROGRESS

log = logging.getLogger(__name__)

PARTS = {"train": "ratings_train", "test": "ratings_test", "train3": "ratings3_sample", "unlabeled": "unlabeled_reviews"}
PUBLISHED = ("ratings_train.txt", "ratings_test.txt")  # what e9t/nsmc ships ready-made
ARCHIVE_URL = "https://codeload.github.com/e9t/nsmc/tar.gz/refs/heads/master"  # the whole repository, raw/ included
FETCH_COMMAND = "python -m app.cli.nsmc fetch"
PER_CLASS = 8_000  # reviews a class in the 3-class sample
SEED = 1234  # e9t's own partition.py seeds numpy with 1234
LINE_BREAKS = re.compile(r"[\t\r\n]+")  # a review is one field of one line


def sample_dir() -> Path:
    """The compact corpus bundled with the project (see data/nsmc-sample/README.md)."""
    return paths.project_root() / "data" / "nsmc-sample"


# ----------------------------------------------------------------------------- finding the files

def find_part(part: str) -> Path:
    """The file of NSMC ``part`` (train, test, train3 or unlabeled).

    Looked for in paths.nsmc_dirs(); where no folder there holds the full corpus,
    the bundled sample is used, with one warning saying so. Raises DataError naming
    the folders looked in and the command that fetches the corpus."""
    if part not in PARTS:
        raise DataError(f"nsmc:{part}: unknown NSMC part {part!r}; expected one of {', '.join('nsmc:' + p for p in PARTS)}")
    folders = paths.nsmc_dirs()
    for folder in folders:
        if found := _file_in(folder, PARTS[part]):
            return found
    full_corpus_on_disk = any(_file_in(folder, PARTS["train"]) for folder in folders)
    if not full_corpus_on_disk and (found := _file_in(sample_dir(), PARTS[part])):
        _say_the_sample_is_used(tuple(folders))
        return found
    raise DataError(f"nsmc:{part}: {PARTS[part]}.txt not found in {', '.join(map(str, folders))}; "
                    f"`{FETCH_COMMAND}` puts the full corpus in {folders[0]}")


def _file_in(folder: Path, stem: str) -> Path | None:
    return next((folder / f"{stem}{suffix}" for suffix in (".txt", ".tsv") if (folder / f"{stem}{suffix}").is_file()), None)


@functools.cache  # once a process
def _say_the_sample_is_used(folders: tuple[Path, ...]) -> None:
    log.warning(f"the full NSMC is not on disk, so the bundled sample {sample_dir()} is used "
                f"({SAMPLE_ROWS['train']:,} training and {SAMPLE_ROWS['test']:,} test reviews); `{FETCH_COMMAND}` gets the full corpus into {folders[0]}")


# ----------------------------------------------------------------------------- fetching e9t/nsmc

@dataclass
class Crawl:
    """What e9t/nsmc holds: the two labeled files as published, and the raw crawl as
    (review id, rating 1-10, review) triples."""

    labeled: dict[str, bytes] = field(default_factory=dict)  # file name -> its bytes
    reviews: list[tuple[str, int, str]] = field(default_factory=list)


def fetch(dest: str | Path, source: str | Path | None = None, per_class: int = PER_CLASS) -> dict[str, int]:
    """Write the four NSMC parts into ``dest``: e9t/nsmc's two labeled files as they
    are, and the 3-class sample and the unlabeled reviews derived from its crawl.

    ``source`` is a clone of github.com/e9t/nsmc or an archive of it (.tar.gz); without
    it the archive is downloaded. Returns the rows written per file."""
    dest = Path(dest)
    if source is not None:
        return derive(read_crawl(Path(source)), dest, per_class)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".nsmc-download.") as folder:
        archive = Path(folder) / "nsmc.tar.gz"
        download(ARCHIVE_URL, archive)
        return derive(read_crawl(archive), dest, per_class)


def download(url: str, target: Path) -> None:
    """Fetch ``url`` into ``target``, showing the megabytes so far. Raises DataError."""
    log.info(f"downloading {url}", extra=PROGRESS)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
            done = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if done % (10 << 20) < len(chunk):
                    log.info(f"  {done >> 20} MB", extra=PROGRESS)
    except OSError as error:
        raise DataError(f"{url}: could not download ({error}); clone github.com/e9t/nsmc "
                        f"and pass its folder with --from") from None
    log.info(f"downloaded {done / 1e6:.0f} MB", extra=PROGRESS)


def read_crawl(source: Path) -> Crawl:
    """The labeled files and the raw reviews of an e9t/nsmc clone or archive."""
    if not source.exists():
        raise DataError(f"{source}: not found; expected a clone of github.com/e9t/nsmc or an archive of it")
    crawl = Crawl()
    for name, read in _members(source):
        if name.rsplit("/", 1)[-1] in PUBLISHED and "/raw/" not in f"/{name}":
            crawl.labeled[name.rsplit("/", 1)[-1]] = read()
        elif re.search(r"(^|/)raw/[^/]+\.json$", name):
            crawl.reviews.extend(_reviews_of(read(), f"{source}: {name}"))
    missing = [name for name in PUBLISHED if name not in crawl.labeled]
    if missing or not crawl.reviews:
        wanted = ", ".join(missing + ([] if crawl.reviews else ["raw/*.json"]))
        raise DataError(f"{source}: has no {wanted}; expected a clone of github.com/e9t/nsmc or an archive of it")
    log.info(f"read {len(crawl.reviews):,} crawled reviews from {source}", extra=PROGRESS)
    return crawl


def _members(source: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(path inside the repository, a function returning its bytes) for each file."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file() and ".git" not in path.relative_to(source).parts:
                yield path.relative_to(source).as_posix(), path.read_bytes
        return
    try:
        with tarfile.open(source, "r:*") as archive:
            for member in archive:
                if member.isfile():
                    yield member.name, archive.extractfile(member).read
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{source}: not a readable .tar.gz archive ({error})") from None


def _reviews_of(raw: bytes, where: str) -> Iterator[tuple[str, int, str]]:
    try:
        records = json.loads(raw.decode("utf-8"))
        for record in records:
            yield str(record["review_id"]), int(record["rating"]), str(record["review"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise DataError(f"{where}: not a crawl file of reviews with review_id, rating and review ({error})") from None


def derive(crawl: Crawl, dest: Path, per_class: int = PER_CLASS) -> dict[str, int]:
    """Write the labeled files, the 3-class sample and the unlabeled reviews into ``dest``."""
    labeled_ids, labeled_texts = set(), set()
    for name in PUBLISHED:
        for line in crawl.labeled[name].decode("utf-8").splitlines()[1:]:
            review_id, text, _ = (line.split("\t") + ["", ""])[:3]
            labeled_ids.add(review_id)
            labeled_texts.add(text)
    rows, seen = [], set(labeled_texts)
    for review_id, rating, review in crawl.reviews:
        text = LINE_BREAKS.sub(" ", review).strip()
        if review_id in labeled_ids or not text or text in seen:
            continue
        seen.add(text)
        rows.append((review_id, 0 if rating <= 4 else 1 if rating <= 8 else 2, text))
    order = np.random.RandomState(SEED).permutation(len(rows))
    rows = [rows[k] for k in order]
    taken = {label: 0 for label in (0, 1, 2)}
    sample, unlabeled = [], []
    for row in rows:
        if taken[row[1]] < per_class:
            taken[row[1]] += 1
            sample.append(row)
        else:
            unlabeled.append(row[2])
    with AtomicDirectory(dest, mode="merge") as staging:
        for name in PUBLISHED:
            (staging / name).write_bytes(crawl.labeled[name])
        (staging / "ratings3_sample.txt").write_text(
            "id\tdocument\tlabel\n" + "".join(f"{i}\t{text}\t{label}\n" for i, label, text in sample), encoding="utf-8")
        (staging / "unlabeled_reviews.txt").write_text("".join(f"{text}\n" for text in unlabeled), encoding="utf-8")
    counts = {name: crawl.labeled[name].count(b"\n") - 1 for name in PUBLISHED}
    return counts | {"ratings3_sample.txt": len(sample), "unlabeled_reviews.txt": len(unlabeled)}


# ----------------------------------------------------------------------------- the bundled sample

SAMPLE_ROWS = {"train": 20_000, "test": 5_000, "train3": 3_000, "unlabeled": 20_000}


def make_sample(source: str | Path, dest: str | Path, rows: dict[str, int] = SAMPLE_ROWS, seed: int = 0) -> dict[str, int]:
    """Draw ``rows[part]`` random lines of each part of the full corpus in ``source``
    into ``dest``, in their file's order: how data/nsmc-sample was made."""
    source, written = Path(source), {}
    with AtomicDirectory(dest, mode="merge") as staging:
        for part, count in rows.items():
            path = _file_in(source, PARTS[part])
            if path is None:
                raise DataError(f"{source}: has no {PARTS[part]}.txt or .tsv; expected a folder with the full NSMC")
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            header, body = ([], lines) if part == "unlabeled" else (lines[:1], lines[1:])
            chosen = np.sort(np.random.RandomState(seed).choice(len(body), size=min(count, len(body)), replace=False))
            (staging / path.name).write_text("".join(header + [body[k] for k in chosen]), encoding="utf-8")
            written[path.name] = len(chosen)
    return written
