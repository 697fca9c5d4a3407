"""The errors the library raises, each with a one-line message in the library's terms.

InputError (ConfigError, DataError, BundleError): a config, data file or model
directory that cannot be used as given. TrainingFailed (TrainingDiverged): training
did not produce a model. The command-line tools map them to messages and exit codes
in one place (app.cli.common.run_command); anything else is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """Base class: a config, data file or model directory that cannot be used as given.

    ``parameter`` names the setting that would fix it, in the library's terms
    (``format``, ``encoding``, ``text_column``): each command-line tool adds its own
    flag for it to the message."""

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class ConfigError(InputError):
    """A config file or override that does not match the schema."""


class DataError(InputError):
    """A data file that cannot be read as asked."""


class BundleError(InputError):
    """A model directory that is incomplete, damaged, inconsistent or unsafe."""


class TrainingFailed(RuntimeError):
    """Training did not produce a model (a training process crashed); the messages
    before it say why."""


class TrainingDiverged(TrainingFailed):
    """The loss became NaN or infinite: raised once, where it is found; nothing was saved."""


def one_line(error: BaseException) -> str:
    """An exception's message with its line breaks folded, for a one-line error."""
    return " ".join(str(error).split())
