"""The kinds of stage, side by side: ``kind_of(stage)`` returns the steps of the stage's kind (see ``base``)."""

from __future__ import annotations

from kinoite_portal.releases.models import Stage
from kinoite_portal.releases.stage_kinds.base import StageKind
from kinoite_portal.releases.stage_kinds.oci import OciKind
from kinoite_portal.releases.stage_kinds.ostree import OstreeKind

KINDS: dict[str, StageKind] = {
    Stage.Kind.OSTREE: OstreeKind(),
    Stage.Kind.OCI: OciKind(),
}


def kind_of(stage: Stage) -> StageKind:
    """Return the steps of ``stage``'s kind."""
    try:
        return KINDS[stage.kind]
    except KeyError:
        raise LookupError(f"Stage {stage.name} has kind {stage.kind!r}; no module in stage_kinds handles it.") from None
