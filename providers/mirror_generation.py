"""MirrorGeneration: which mirror a site's homes belong to.

Bitbucket reads a mirror's setup values (display name, base URL, primary URL) only on its first
start and never again, and "mirror all projects" can only be undone by a new mirror (vendor: "Set
up a mirror"). So a change of any of those, or mirrorAll going from true to false, needs a new
mirror: empty homes, a new setup, a new approval. This resource decides that: it is replaced
exactly then, and its `generation` goes into every node's files, whose install empties a home that
belongs to another generation, and into the approval, which is replaced with it. mirrorAll going
from false to true is an ordinary change: no rebuild. It calls nothing: the decision is made from
the old and new values alone.

A new generation is an update of this resource, never a replacement: the engine replaces a
resource after a second Check with no olds (pulumi/pulumi step_generator.go, "we need to recompute
the default values"), which cannot know the generation before; one derived from the new values
alone would come back to an earlier one (mirrorAll false -> true -> false, displayName A -> B -> A)
and no home would be emptied. Updated, each generation is derived from the one before it, which the
state holds: Check (with the olds, which an update always has) derives it so a preview shows it,
and Update records that value; a chain of hashes never repeats.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from .base import input_names, inputs_of, is_unknown
from .messages import warn
from .urls import normalise_base_url

# kms_key_arn: another key gives every node new, empty volumes (EBS cannot re-encrypt one in place).
REBUILT_BY = ("display_name", "base_url", "primary_url", "kms_key_arn")


@dataclass
class MirrorGenerationArgs:
    """The values Bitbucket reads once, at a mirror's first start: a change of one is a new mirror."""

    # The mirror's setup.displayName: a change is a new generation (a rebuilt mirror).
    display_name: pulumi.Input[str]
    # The mirror's base URL (compared normalised: a trailing slash or case changes nothing); a change
    # is a new generation.
    base_url: pulumi.Input[str]
    # The primary's URL (compared normalised): a change is a new generation.
    primary_url: pulumi.Input[str]
    # Whether the mirror mirrors every project: true -> false is a new generation (only a new mirror
    # undoes it), false -> true an ordinary update.
    mirror_all: pulumi.Input[bool] = False
    # The KMS key of the site's volumes: another key is a new generation (new, empty volumes). None:
    # the default key, and the generations of sites without one stay what they were.
    kms_key_arn: Optional[str] = None
    # The site's config key ("mirrors[0]"), named in the warning at preview; it decides nothing.
    config_key: str = "mirrors[?]"
    # The URN of the site the warning is attributed to; it decides nothing.
    warn_to: Optional[str] = None


def next_generation(previous: Optional[str], props: dict[str, Any]) -> str:
    """The id of the mirror after `previous` for these setup values (deterministic: a preview and the
    `up` after it agree)."""
    text = "|".join(
        [
            str(previous),
            str(props.get("display_name")),
            normalise_base_url(str(props.get("base_url"))),
            normalise_base_url(str(props.get("primary_url"))),
            str(bool(props.get("mirror_all"))),
        ]
        # Only when set: the generations of sites without a key stay what they were.
        + ([str(props["kms_key_arn"])] if props.get("kms_key_arn") else [])
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_keys(site_key: str, reasons: list[str]) -> list[str]:
    """The stack config keys a user wrote, for the inputs that need a new mirror."""
    names = {
        "display_name": f"{site_key}.displayName",
        "base_url": f"{site_key}.baseUrl",
        "primary_url": "primary.url",
        "mirror_all": f"{site_key}.mirrorAll",
        "kms_key_arn": f"{site_key}.kmsKeyArn (or kmsKeyArn)",
    }
    return [names[r] for r in reasons]


def _same(key: str, old: Any, new: Any) -> bool:
    if key not in ("base_url", "primary_url") or not isinstance(old, str) or not isinstance(new, str):
        return old == new
    return normalise_base_url(old) == normalise_base_url(new)


def rebuild_reasons(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """The inputs whose change needs a new mirror (unknown values count: preview shows a rebuild)."""
    reasons = [k for k in REBUILT_BY if is_unknown(news.get(k)) or not _same(k, olds.get(k), news.get(k))]
    if olds.get("mirror_all") is True and (is_unknown(news.get("mirror_all")) or news.get("mirror_all") is not True):
        reasons.append("mirror_all")
    return reasons


class MirrorGenerationProvider(ResourceProvider):
    """Which mirror a site's homes belong to (module docstring: why an update, never a replace).

    - check: with olds, a change of a REBUILT_BY value or mirrorAll true -> false derives the next
      generation from the state's one and warns at preview what a rebuild costs; without olds (a
      create) the first generation. An unknown value leaves the generation unknown until it is known.
    - diff: those changes, and mirrorAll either way, are an update; nothing forces a replacement.
    - create: records the first generation (its id). update: records the generation check derived
      (or derives it from the old outputs). Neither calls anything.
    - read: the state as it is. delete: the SDK's default, nothing outside the state; safe to repeat.
    """

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        # Check runs at preview: the warning goes to the site, and into this resource's diff.
        reasons = rebuild_reasons(olds, news) if olds else []
        impact = None
        generation = olds.get("generation")
        if reasons:
            keys = ", ".join(config_keys(str(news.get("config_key")), reasons))
            impact = (
                f"{keys} changed: the mirror is rebuilt: every node of the site stops, its home is emptied "
                "and Bitbucket starts on it as a new mirror, which is approved on the primary while the "
                "old one is removed; its repositories are synchronised again from scratch, and until then "
                "the mirror is unavailable"
            )
            warn(impact, news.get("warn_to"))
        if not olds or reasons:
            if any(is_unknown(news.get(k)) for k in REBUILT_BY + ("mirror_all",)):
                generation = None  # known once the values are
            else:
                generation = next_generation(olds.get("generation") or (olds and "legacy") or None, news)
        checked = {**news, "impact": impact}
        if generation is not None:
            checked["generation"] = generation
        return CheckResult(checked, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A rebuild is an update to the next generation (module docstring): nothing is replaced.
        changed = bool(rebuild_reasons(olds, news)) or olds.get("mirror_all") != news.get("mirror_all")
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        generation = props.get("generation") or next_generation(None, props)
        return CreateResult(generation, {**self._inputs(props), "generation": generation})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {**self._inputs(props), "generation": props.get("generation") or id_})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # What Check derived from the state's generation (the preview showed it); without it, the
        # same derivation from the old outputs.
        previous = olds.get("generation") or id_
        generation = news.get("generation") or (
            next_generation(previous, news) if rebuild_reasons(olds, news) else previous
        )
        return UpdateResult({**self._inputs(news), "generation": generation})

    @staticmethod
    def _inputs(props: dict[str, Any]) -> dict[str, Any]:
        return {k: props.get(k) for k in input_names(MirrorGenerationArgs)}


class MirrorGeneration(Resource, module="bitbucket", name="MirrorGeneration"):
    """A site's mirror generation: `generation` changes exactly when the site needs a new mirror."""

    generation: pulumi.Output[str]

    def __init__(self, name: str, args: MirrorGenerationArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(MirrorGenerationProvider(), name, {**inputs_of(args), "generation": None}, opts)
