"""The `fleet` command line: thin commands that parse, call the engine and print."""
