"""Configs: the typed schema (schema.py) and loading YAML files with overrides (loader.py)."""

from app.config.loader import check_data_files, config_from_dict, load_config
from app.config.schema import (
    Config,
    DataConfig,
    DistillConfig,
    EarlyStoppingConfig,
    ModelConfig,
    PretrainConfig,
    TokenizerConfig,
    TrainConfig,
    VocabConfig,
)
from app.errors import ConfigError

__all__ = ["Config", "ConfigError", "DataConfig", "DistillConfig", "EarlyStoppingConfig", "ModelConfig",
           "PretrainConfig", "TokenizerConfig", "TrainConfig", "VocabConfig", "check_data_files", "config_from_dict", "load_config"]
