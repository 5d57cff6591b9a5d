from __future__ import annotations

from kinoite_portal.releases.management.commands._promotion_common import VoteCommand


class Command(VoteCommand):
    help = "Reject a promotion as a member of the approvers group (the same policy as the browser)."
    decision = "reject"
