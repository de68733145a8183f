"""The floor for the program: register exactly the resources a program run registered (types,
names, inputs, parents, dependencies, components' outputs; the same SDK modules imported), with plain
`pulumi.CustomResource` / `pulumi.ComponentResource` and nothing else: no config reading, no
validation, no rendering. The plan comes from `benchmarks/program_floor.py` (REPLAY_PLAN)."""
import importlib
import json
import os

import pulumi

SECRET_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"

with open(os.environ["REPLAY_PLAN"]) as handle:
    plan = json.load(handle)
for module in plan["modules"]:
    importlib.import_module(module)


def revive(value):
    if isinstance(value, dict):
        if value.get(SECRET_KEY) == SECRET_SIG:
            return pulumi.Output.secret(revive(value["value"]))
        return {k: revive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revive(v) for v in value]
    return value


registered: dict = {}
for item in plan["resources"]:
    opts = pulumi.ResourceOptions(parent=registered.get(item["parent"]),
                                  depends_on=[registered[u] for u in item["dependencies"] if u in registered])
    if item["custom"]:
        resource = pulumi.CustomResource(item["type"], item["name"], revive(item["inputs"]), opts)
    else:
        resource = pulumi.ComponentResource(item["type"], item["name"], None, opts)
        if item["outputs"] is not None:
            resource.register_outputs(revive(item["outputs"]))
    registered[item["urn"]] = resource
