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


class TrainingFailed(RuntimeError):
    """Training did not produce a model (the loss diverged, or a training process
    crashed); the messages before it say why. Exit status 1."""


def integer_at_least(minimum):
    """An argparse ``type``: an integer no smaller than ``minimum``, else a usage error."""
    import argparse

    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}")
        return value
    return parse


def one_line(error):
    """An exception's message with its line breaks folded, for a one-line error."""
    return " ".join(str(error).split())


def run_command(command):
    """Run a command-line tool's body and return its exit status.

    An InputError prints ``error: <message>`` and gives 2; Ctrl-C gives 130 (no
    output file or model is left half-written: both are renamed into place only
    when complete); a closed pipe (``| head``) ends quietly.
    """
    import sys

    try:
        return command()
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: no model or output file was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
