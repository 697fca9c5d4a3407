"""The typed configuration schema: plain values in nested dataclasses.

Every field says its type, its default, where it matters its allowed range or
choices, and what it does (``help``): one generic validator (app.config.loader)
checks a whole file against it before any data is read, and docs/config.md is
generated from it (``python -m app.cli.docs``). The allowed cells, poolings,
optimizers and tokenizer backends come from their registries.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from app.modeling.cells import CELLS
from app.modeling.optimizers import OPTIMIZERS
from app.modeling.poolings import POOLINGS
from app.registry import Registry
from app.text.backends import BACKENDS


def option(default: Any = dataclasses.MISSING, *, help: str, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False, choices: Registry | None = None,
           default_factory: Any = dataclasses.MISSING) -> Any:
    """A schema field: its default, a one-line ``help``, and optionally a numeric range
    (``low``/``high``, open or closed) or a registry whose names are the allowed values."""
    metadata = {"help": help, "range": (low, high, low_open, high_open), "choices": choices}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class DataConfig:
    """What is read: the labeled train and test files, their columns, format and encoding."""

    train: str = option("nsmc:train", help="the labeled comments: a file path, or nsmc:train / nsmc:test / nsmc:train3")
    test: Optional[str] = option("nsmc:test", help="the test file; null holds out `test_split` of train instead")
    test_split: float = option(0.2, low=0, high=1, low_open=True, high_open=True,
                               help="the share of train held out as the test set when `test` is null")
    text_column: str = option("document", help="the column holding the comment")
    label_column: str = option("label", help="the column holding the label")
    label_names: Optional[dict[str, str]] = option(None, help="display names of the labels, e.g. {0: negative, 1: positive}")
    format: Optional[Literal["tsv", "csv", "jsonl", "txt"]] = option(None, help="the file format; null: by extension")
    encoding: Optional[str] = option(None, help="the file encoding; null: detect UTF-8, UTF-8/16 with BOM, CP949")
    encoding_errors: Literal["strict", "replace"] = option(
        "strict", help="undecodable bytes stop reading (strict) or become U+FFFD and are counted (replace)")
    max_rows: Optional[int] = option(None, low=1, help="a random subset of train of this size, for quick runs")


@dataclass
class TokenizerConfig:
    """How comments become tokens: the morpheme analyzer and its options."""

    backend: str = option("mecab", choices=BACKENDS, help="the morpheme analyzer, or characters")
    stem: bool = option(False, help="okt only: 좋았어요 -> 좋다")
    norm: bool = option(False, help="okt only: ㅋㅋㅋㅋㅋ -> ㅋㅋㅋ")
    workers: int = option(0, low=0, high=256, help="tokenizer processes; 0 = every core")
    cache: bool = option(True, help="cache tokens on disk, keyed by the texts and these settings")

    def problem(self) -> str | None:
        """A message when stem or norm is set for a backend that does not take them, else None."""
        if not BACKENDS[self.backend].takes_stem_and_norm and (self.stem or self.norm):
            return f"tokenizer.stem and tokenizer.norm apply to backend okt only, not {self.backend}"
        return None


@dataclass
class VocabConfig:
    """How tokens become ids: vocabulary size, rare tokens, padding and truncation."""

    max_size: int = option(30000, low=3, high=10_000_000, help="tokens in the vocabulary, <pad> and <oov> included")
    min_count: int = option(2, low=1, help="rarer training tokens become <oov>")
    max_length: int = option(60, low=1, high=10_000, help="tokens per comment after padding and truncation")
    truncate: Literal["start", "end"] = option("start", help="which end of a long comment is cut")
    add_pretrained: bool = option(True, help="with pretrain: tokens with a vector join, even if no labeled comment has them")


@dataclass
class PretrainConfig:
    """Word2vec embeddings trained on unlabeled comments before the model is."""

    unlabeled: Optional[str] = option(None, help="word2vec on these unlabeled comments (a file, or nsmc:unlabeled) "
                                                 "starts the embedding; null = no pretraining")
    method: Literal["skipgram", "cbow"] = option("skipgram", help="the word2vec training method")
    window: int = option(5, low=1, high=100, help="context words on each side")
    min_count: int = option(3, low=1, help="rarer tokens get no vector")
    epochs: int = option(5, low=1, high=1000, help="word2vec passes over the comments")
    max_rows: Optional[int] = option(None, low=1, help="the first N unlabeled comments, for quick runs; "
                                                       "null: data.max_rows when that is set, else all")


@dataclass
class DistillConfig:
    """Knowledge distillation: a teacher labels unlabeled comments the saved model learns from."""

    unlabeled: Optional[str] = option(None, help="a teacher (this model averaged with naive-Bayes n-grams) labels these "
                                                 "comments and the saved model learns from them too; null = no distillation")
    max_rows: Optional[int] = option(None, low=1, help="a random N of the unlabeled comments: shorter epochs")
    epochs: int = option(3, low=1, high=10_000, help="the saved (student) model's epochs; the teacher trains for train.epochs")
    warm_start: bool = option(True, help="the student starts from the teacher's weights; false: afresh")
    teacher_mix: Optional[float] = option(0.5, low=0, high=1, help="the recurrent half's share of the teacher's mean "
                                          "(the n-gram half has the rest); null: the share of 0, 0.1, ... 1 with "
                                          "the least log loss on the validation rows")
    teacher_layers: Optional[int] = option(None, low=1, high=8, help="the teacher's stacked recurrent layers (null: "
                                           "model.layers); a deeper teacher for a shallower, faster saved model")
    teacher_seeds: int = option(1, low=1, high=20, help="the teacher's recurrent half is the mean of this many models, "
                                "of seeds train.seed, +1, ...: a steadier teacher, at one more training each")
    unlabeled_vocabulary: bool = option(False, help="the student's vocabulary counts the unlabeled comments too, so it "
                                                    "learns words no labeled comment holds (with warm_start each "
                                                    "starts as the teacher's OOV vector)")


@dataclass
class ModelConfig:
    """The network: embedding, recurrent cell and layers, pooling and head."""

    cell: str = option("lstm", choices=CELLS, help="the recurrent cell")
    embedding_dim: int = option(128, low=1, high=4096, help="features of each token's embedding")
    embedding_dropout: float = option(0.0, low=0, high=1, high_open=True, help="drops whole embedding features (SpatialDropout1D)")
    units: int = option(128, low=1, high=4096, help="units of each recurrent layer (per direction)")
    activation: Literal["tanh", "relu"] = option("tanh", help="the state activation; relu: unbounded states, "
                                                              "gradients that can explode")
    layers: int = option(1, low=1, high=8, help="stacked recurrent layers")
    bidirectional: bool = option(False, help="read each comment both ways")
    dropout: float = option(0.0, low=0, high=1, high_open=True, help="dropout on each recurrent layer's inputs")
    recurrent_dropout: float = option(0.0, low=0, high=1, high_open=True, help="dropout on the recurrent state")
    pooling: str = option("last", choices=POOLINGS, help="how the states become one vector")
    head_units: int = option(0, low=0, high=4096, help="a hidden Dense layer before the output; 0 = none")
    head_dropout: float = option(0.0, low=0, high=1, high_open=True, help="dropout before the output layer")


@dataclass
class EarlyStoppingConfig:
    """When training stops early, and what it watches."""

    enabled: bool = option(True, help="stop when the monitored value stops improving, keeping the best epoch")
    monitor: Literal["val_loss", "val_accuracy"] = option("val_loss", help="what early stopping watches")
    patience: int = option(2, low=0, high=1000, help="epochs without improvement before stopping")


@dataclass
class TrainConfig:
    """Fitting: optimizer, learning rate schedule, clipping, batches, epochs and seed."""

    optimizer: str = option("adam", choices=OPTIMIZERS, help="the Keras optimizer")
    learning_rate: float = option(0.001, low=0, low_open=True, help="the (peak) learning rate")
    # cosine: a linear warmup from 0 over the first `warmup` fraction of all `epochs`' steps,
    # then the rate falls from learning_rate to 0 along a half cosine over the rest
    lr_schedule: Literal["constant", "cosine"] = option("constant", help="constant, or warmup then a half cosine to 0")
    warmup: float = option(0.0, low=0, high=1, high_open=True, help="cosine only: the share of all steps warming up")
    clipnorm: Optional[float] = option(None, low=0, low_open=True, help="clip each weight's gradient to this norm")
    clipvalue: Optional[float] = option(None, low=0, low_open=True, help="clip each gradient value to ±this")
    batch_size: int = option(256, low=1, high=1_000_000, help="comments per training step")
    bucket_by_length: bool = option(True, help="batches of similar length, cut to their longest comment: ~2x faster epochs")
    epochs: int = option(10, low=1, high=10_000, help="the most epochs trained")
    early_stopping: EarlyStoppingConfig = option(default_factory=EarlyStoppingConfig, help="early stopping")
    validation_split: float = option(0.1, low=0, high=1, low_open=True, high_open=True,
                                     help="the share of the training comments held out for validation")
    seed: int = option(42, low=0, high=2**32 - 1, help="the same seed gives the same run (NumPy takes 0 to 2^32 - 1)")

    def problem(self) -> str | None:
        """A message when warmup is set without the cosine schedule, else None."""
        if self.warmup and self.lr_schedule == "constant":
            return "train.warmup applies to lr_schedule cosine only, not constant"
        return None


@dataclass
class Config:
    """A whole run's configuration: one section per concern."""

    name: Optional[str] = option(None, help="the run-name prefix; default: the cell name")
    data: DataConfig = option(default_factory=DataConfig, help="what is read")
    tokenizer: TokenizerConfig = option(default_factory=TokenizerConfig, help="how comments become tokens")
    vocab: VocabConfig = option(default_factory=VocabConfig, help="how tokens become ids")
    pretrain: PretrainConfig = option(default_factory=PretrainConfig, help="word2vec embeddings")
    model: ModelConfig = option(default_factory=ModelConfig, help="the network")
    train: TrainConfig = option(default_factory=TrainConfig, help="fitting")
    distill: DistillConfig = option(default_factory=DistillConfig, help="knowledge distillation")

    def to_dict(self) -> dict:
        """The config as nested plain dicts (what config.yaml holds)."""
        return dataclasses.asdict(self)
