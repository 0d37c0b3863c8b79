"""Entry points: the HTTP API, the command line and (later) the web console."""
