from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from kinoite_portal.core.templatetags.portal import SHORT_CHECKSUM, at, checksum, short, state_badge, when


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


def test_short_cuts_checksums_to_the_one_short_length() -> None:
    assert short("a" * 64) == "a" * SHORT_CHECKSUM == "a" * 12
    assert short(None) == ""


def test_it_links_a_checksum_to_its_commit_with_the_full_value_on_hover_and_copy() -> None:
    full = "ab" * 32

    html = checksum(full)

    assert f'href="/releases/commits/{full}/"' in html
    assert f'title="{full}">{full[:12]}</a>' in html
    assert f'data-copy="{full}"' in html


def test_it_links_a_checksum_only_when_its_commit_is_known() -> None:
    known, unknown = "ab" * 32, "cd" * 32

    assert "href=" in checksum(known, link={known})
    assert "href=" not in checksum(unknown, link={known})
    assert "href=" not in checksum(known, link=False)
    assert f'data-copy="{unknown}"' in checksum(unknown, link={known})
    assert "—" in checksum("")


def test_it_renders_absolute_times_with_the_relative_time_on_hover() -> None:
    moment = timezone.now() - timedelta(days=2, hours=1)

    html = at(moment)

    assert f">{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC</time>" in html
    assert 'title="2 days ago"' in html
    assert 'class="absolute"' in html


def test_it_formats_iso_strings_as_rpm_ostree_reports_them() -> None:
    assert ">2026-11-20 08:30 UTC</time>" in at("2026-11-20T09:30:00+01:00")
    assert "—" in at(None)
    assert "—" in at("not a date")
