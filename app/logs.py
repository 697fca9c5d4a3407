"""How the library reports progress: through ``logging``, never ``print``.

Results and steps (``read 150,000 comments``, the parameter table, test metrics)
are INFO records; progress while something runs (``tokenized 40,000/150,000``) and
notes about the run are INFO records marked ``extra=PROGRESS``; problems the run
survives are WARNING records. The command-line tools show the first kind on
standard output and the others on standard error (app.cli.common.configure_logging);
a program using the library sees nothing unless it configures logging itself.
"""

PROGRESS = {"progress": True}  # extra= of a record that belongs on standard error
