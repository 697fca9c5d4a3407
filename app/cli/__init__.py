"""The command-line tools: they parse arguments, call the library and map its errors to exit codes."""
