"""What a higher layer adds to the rollout page: a template and its context (see ``PORTAL_ROLLOUT_SECTIONS``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RolloutSection:
    """One region of the rollout page, rendered above the per-department table with ``section_context``."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
