"""Errors that describe a problem with the user's input, in one line.

The command-line tools print them as ``error: <message>`` and exit with status 2;
anything else is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """Base class: a config, data file or model directory that cannot be used as given."""


class ConfigError(InputError):
    """A config file or override that does not match the schema."""


class DataError(InputError):
    """A data file that cannot be read as asked."""


class BundleError(InputError):
    """A model directory that is incomplete, damaged, inconsistent or unsafe."""
