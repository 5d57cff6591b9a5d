"""The audit trail page: filters, and pages that keep them."""

from __future__ import annotations

import html
import re

from kinoite_portal.core.audit import audit_record


def test_the_pager_keeps_a_filter_that_holds_url_characters(db, approver, client_for) -> None:
    for n in range(51):
        audit_record(action="promotion.request", actor_label="cron a&b+c", message=f"event {n}")
    audit_record(action="promotion.request", actor_label="cron a", message="someone else")
    client = client_for(approver)

    first = client.get("/releases/audit/", {"actor": "cron a&b+c"}).content.decode()
    older = html.unescape(re.search(r'<a href="([^"]+)">Older</a>', first).group(1))
    second = client.get("/releases/audit/" + older).content.decode()

    assert "(51 events)" in first
    assert "Page 2 of 2 (51 events)" in second
    assert "event 0<" in second
    assert "someone else" not in second
