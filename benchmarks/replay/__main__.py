"""The floor for the program: register exactly the resources a program run registered (types,
names, inputs, parents, dependencies, components' outputs; the same SDK modules imported), with plain
`pulumi.CustomResource` / `pulumi.ComponentResource` and nothing else: no config reading, no
validation, no rendering. The plan comes from `benchmarks/program_floor.py` (REPLAY_PLAN)."""

import functools
import importlib
import json
import os

import pulumi

from benchmarks.noop_provider import NoopProvider

SECRET_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"

with open(os.environ["REPLAY_PLAN"]) as handle:
    plan = json.load(handle)
for module in plan["modules"]:
    # Loaded, not only imported: an SDK module is lazy until an attribute is read.
    hasattr(importlib.import_module(module), "_bitbucket_mirrors_load_")


def revive(value):
    if isinstance(value, dict):
        if value.get(SECRET_KEY) == SECRET_SIG:
            return pulumi.Output.secret(revive(value["value"]))
        return {k: revive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revive(v) for v in value]
    return value


# REPLAY_CLASSES=typed: every custom resource through the SDK's own class for its type (the
# generated pulumi_aws/... classes, pulumi.dynamic.Resource), so the floor carries what those
# classes cost over plain registration for exactly these resources.
TYPED = os.environ.get("REPLAY_CLASSES") == "typed"
PACKAGES = {"aws": "pulumi_aws", "command": "pulumi_command", "tls": "pulumi_tls", "random": "pulumi_random"}


@functools.lru_cache(maxsize=None)
def typed_class(type_token: str) -> tuple[type, dict[str, str]]:
    """The SDK's class for a type and its wire -> Python input names (looked up once per type, so
    the replay's own work stays out of the floor)."""
    package, module, class_name = type_token.split(":")
    if package == "pulumi-python":
        return type(class_name, (pulumi.dynamic.Resource,), {}, module=module.split("/")[1], name=class_name), {}
    namespace = importlib.import_module(
        PACKAGES[package] + ("" if module.startswith("index") else "." + module.split("/")[0])
    )
    args_class = getattr(namespace, class_name + "Args")
    names = {wire: py for py, wire in pulumi._types.input_type_py_to_pulumi_names(args_class).items()}
    return getattr(namespace, class_name), names


def typed_resource(type_token: str, name: str, inputs: dict, opts: pulumi.ResourceOptions):
    resource_class, names = typed_class(type_token)
    if not names:  # dynamic: the same inputs, a provider that does nothing
        return resource_class(NoopProvider(), name, {k: v for k, v in inputs.items() if k != "__provider"}, opts)
    return resource_class(name, opts=opts, **{names[k]: v for k, v in inputs.items() if k in names})


registered: dict = {}
for item in plan["resources"]:
    opts = pulumi.ResourceOptions(
        parent=registered.get(item["parent"]),
        depends_on=[registered[u] for u in item["dependencies"] if u in registered],
    )
    if item["custom"] and TYPED:
        resource = typed_resource(item["type"], item["name"], revive(item["inputs"]), opts)
    elif item["custom"]:
        resource = pulumi.CustomResource(item["type"], item["name"], revive(item["inputs"]), opts)
    else:
        resource = pulumi.ComponentResource(item["type"], item["name"], None, opts)
        if item["outputs"] is not None:
            resource.register_outputs(revive(item["outputs"]))
    registered[item["urn"]] = resource
