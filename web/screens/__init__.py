"""The web app's screens beyond the desk and the board, one module (and router) each."""
