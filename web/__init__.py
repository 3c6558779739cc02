"""The web app: server-rendered pages over the same queries and commands as the JSON API,
live through one Server-Sent Events stream per page, with the assets vendored into the package."""
