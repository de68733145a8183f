"""Extract the part of the vendor's Bitbucket Data Center OpenAPI document this project uses.

    python3 scripts/extract_openapi_subset.py swagger.v3.json > tests/spec/bitbucket-dc-9.2-subset.json

Keeps every operation of the two mirroring groups ("Mirroring (Upstream)", served by the primary,
and "Mirroring (Mirror)", served by a mirror) and the few primary calls the providers make
(project lookup, application properties, SSH settings, licence), with every component they
reference, followed transitively. The output is deterministic (sorted keys) so a re-run on the
same document changes nothing. See tests/spec/PROVENANCE.md for where the document comes from.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterator

MIRRORING_TAGS = {"Mirroring (Upstream)", "Mirroring (Mirror)"}
PRIMARY_PATHS = {
    "/api/latest/application-properties",
    "/api/latest/admin/license",
    "/api/latest/projects",
    "/api/latest/projects/{projectKey}",
    "/ssh/latest/settings",
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document: dict, ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref}")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def subset(document: dict) -> dict:
    paths: dict[str, dict] = {}
    for path, item in document["paths"].items():
        operations = {m: op for m, op in item.items() if m in HTTP_METHODS}
        if path in PRIMARY_PATHS:
            kept = operations if path != "/api/latest/projects" else {"get": operations["get"]}
        else:
            kept = {m: op for m, op in operations.items() if MIRRORING_TAGS & set(op.get("tags", []))}
        if kept:
            shared = {k: v for k, v in item.items() if k not in HTTP_METHODS}
            paths[path] = {**shared, **kept}

    components: dict[str, dict] = {}
    todo = list(_refs(paths))
    seen: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        target = _resolve(document, ref)
        components.setdefault(kind, {})[name] = target
        todo += _refs(target)
    components["securitySchemes"] = document["components"]["securitySchemes"]
    return {
        "openapi": document["openapi"],
        "info": document["info"],
        "servers": document["servers"],
        "paths": paths,
        "components": components,
    }


def main() -> None:
    with open(sys.argv[1]) as handle:
        document = json.load(handle)
    json.dump(subset(document), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
