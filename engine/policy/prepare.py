"""One model's policy input made ready to decide: its decision-cache key and the text a backend receives.

Part of the policy stage (between the input contract and the decision cache). The key
is taken over the compact form (``engine.policy.compact``) plus a digest of the run-level
documents, which together stand for the whole input: an eighth of the bytes to write and
hash, and the same key whichever backend later decides. The key also names the
hand-over revision (``engine.policy.exact.HANDOVER_REVISION``), so no decision reached
by an older, inexact hand-over is ever reused. ``InputPreparer`` does this
where a spec is loaded (``load_workspace(summarise=...)``), so a re-check of thousands
of specs sends back a few kilobytes per model instead of every parsed spec. Nothing here
evaluates a policy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from engine.policy.cache import input_key
from engine.policy.compact import compact
from engine.policy.errors import PolicyInputError
from engine.policy.exact import HANDOVER_REVISION
from engine.policy.inputs import InputBuilder, dumps_without_now
from engine.spec.workspace import LoadedSpec


@dataclass(frozen=True)
class RunDocuments:
    """The documents every input of a run shares (``config``, ``freezes``, ``waivers``) and their digest."""

    docs: dict[str, Any]
    digest: str

    @classmethod
    def of(cls, builder: InputBuilder) -> RunDocuments:
        """The run documents of ``builder`` (checked once for values JSON cannot carry)."""
        docs = {"config": builder.config_data, "freezes": builder.freezes, "waivers": builder.waivers}
        return cls(docs, hashlib.sha256(dumps_without_now(docs).encode()).hexdigest())


@dataclass(frozen=True)
class Prepared:
    """A model's input, ready for the cache and the backend."""

    model: str
    file: str
    key: str
    text: str
    """Canonical JSON without ``now_ns``: the compact form when ``compact``, else the full input."""
    compact: bool
    uris: tuple[str, ...] = ()
    """The URIs the spec names (its lint result depends on those files: ``engine.policy.cached_check``)."""
    name_position: tuple[int, int] = (1, 1)
    """Line and column of ``metadata.name`` (where a duplicate model id is reported)."""


@dataclass(frozen=True)
class PrepareFailure:
    """A spec the policy input cannot express (sent back from a worker instead of an exception)."""

    message: str
    file: str | None
    line: int | None
    col: int | None

    def error(self) -> PolicyInputError:
        """The error to raise in govops."""
        return PolicyInputError(self.message, file=self.file, line=self.line, col=self.col)


def prepare(doc: dict[str, Any], head: LoadedSpec | None, run: RunDocuments, bucket: int) -> Prepared:
    """Key and text of the input ``doc`` (``bucket``: where the clock falls among the policies' time bounds)."""
    small = compact(doc, run.docs)
    if small is not None:
        text = dumps_without_now(small, head)
        key = input_key(f"{HANDOVER_REVISION}:compact:{run.digest}:{text}", bucket)
    else:
        text = dumps_without_now(doc, head)
        key = input_key(f"{HANDOVER_REVISION}:{text}", bucket)
    return Prepared(doc["model"], doc["file"], key, text, small is not None)


@dataclass(frozen=True)
class InputPreparer:
    """``load_workspace``'s ``summarise`` for a re-check: the prepared input of each spec, built where it loads."""

    builder: InputBuilder
    run: RunDocuments
    bucket: int

    def __call__(self, loaded: LoadedSpec) -> Prepared | PrepareFailure:
        """The prepared input of ``loaded`` (a re-check: the spec is its own base)."""
        from dataclasses import replace

        from engine.spec.result_cache import spec_uris

        try:
            prepared = prepare(self.builder.build(loaded, loaded)["input"], loaded, self.run, self.bucket)
            return replace(prepared, uris=tuple(spec_uris(loaded.doc.data)),
                           name_position=loaded.doc.position(("metadata", "name")))
        except PolicyInputError as exc:
            return PrepareFailure(exc.message, exc.file, exc.line, exc.col)
