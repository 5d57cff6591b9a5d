from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from kinoite_portal.core.templatetags.portal import short, state_badge, when


def test_when_says_how_long_ago_with_the_exact_utc_time_as_title() -> None:
    moment = timezone.now() - timedelta(days=8, hours=3)

    html = when(moment)

    assert ">1 week ago</time>" in html
    assert f'title="{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"' in html
    assert f'datetime="{moment.astimezone(UTC).isoformat()}"' in html


def test_when_handles_the_future_and_never() -> None:
    assert ">in 2 days</time>" in when(timezone.now() + timedelta(days=2, minutes=1))
    assert "never" in when(None)


def test_when_converts_other_time_zones_to_utc_in_the_title() -> None:
    berlin = datetime(2026, 1, 2, 12, 0, tzinfo=timezone.get_fixed_timezone(60))

    assert 'title="2026-01-02 11:00 UTC"' in when(berlin)


def test_state_badge_shows_the_word_not_only_a_color() -> None:
    html = state_badge("failed")

    assert "badge-bad" in html
    assert ">failed</span>" in html


def test_short_cuts_checksums() -> None:
    assert short("a" * 64) == "a" * 10
    assert short(None) == ""
