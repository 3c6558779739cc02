"""The vendored assets under web/static/vendor, checked against their manifest (no Node needed).

`python -m web.vendor --check` reads web/static/vendor/MANIFEST.json from the installed package
and reports every file whose sha256 differs from its entry, that is missing, whose licence file is
missing, or that sits under web/static/vendor without an entry; it exits 1 if there is any.

Each file is copied unchanged from its npm tarball, into `<package>-<version>/` (htmx.org keeps
the name htmx, @picocss/pico pico), beside the package's licence. To add or update one:

    npm pack <package>@<version>       # e.g. npm pack swagger-ui-dist@5.35.0 (only downloads)
    tar xzf <package>-<version>.tgz    # unpacks into package/
    cp package/<file> web/static/vendor/<package>-<version>/    # and the LICENSE beside it
    sha256sum web/static/vendor/<package>-<version>/<file>

then give the file its entry in MANIFEST.json (package, version, tarball_path, path, sha256,
licence as an SPDX id, licence_file), delete the old version's directory and entries, change the
URLs that name it (web/render.py ASSETS, web/docs.py) and run the check.
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

MANIFEST = "MANIFEST.json"


def vendor() -> Traversable:
    return files("web") / "static" / "vendor"


def entries() -> list[dict[str, Any]]:
    return json.loads((vendor() / MANIFEST).read_text("utf-8"))["files"]


def at(path: str) -> Traversable:
    node = vendor()
    for part in path.split("/"):
        node = node / part
    return node


def present(node: Traversable | None = None, prefix: str = "") -> set[str]:
    """Every file under web/static/vendor but the manifest, as paths relative to it."""
    found: set[str] = set()
    for child in (node or vendor()).iterdir():
        if child.is_dir():
            found |= present(child, f"{prefix}{child.name}/")
        elif f"{prefix}{child.name}" != MANIFEST:
            found.add(f"{prefix}{child.name}")
    return found


def problems() -> list[str]:
    """What does not agree with the manifest; empty when everything does."""
    found: list[str] = []
    listed = entries()
    for entry in listed:
        path, node = entry["path"], at(entry["path"])
        if not node.is_file():
            found.append(f"{path}: missing")
        elif hashlib.sha256(node.read_bytes()).hexdigest() != entry["sha256"]:
            found.append(f"{path}: sha256 differs from the manifest's")
        if not at(entry["licence_file"]).is_file():
            found.append(f"{path}: its licence file {entry['licence_file']} is missing")
    found += [f"{path}: not in {MANIFEST}"
              for path in sorted(present() - {entry["path"] for entry in listed})]
    return found


def main(argv: list[str] | None = None) -> int:
    if (argv if argv is not None else sys.argv[1:]) != ["--check"]:
        print("usage: python -m web.vendor --check", file=sys.stderr)
        return 2
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    if not found:
        print(f"{len(entries())} vendored files agree with web/static/vendor/{MANIFEST}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
