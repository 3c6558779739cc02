"""HTTP API, web board and the `goldsplit` command line."""
