"""Create an API token for automation and print it once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kinoite_portal.core.api_tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token that acts as USERNAME through /api/v1/; the token is printed once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What uses the token, e.g. ansible-promote.")
        parser.add_argument("--days", type=int, default=None, help="Expire after this many days (default: never).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user called {options['username']!r}.")
        if options["days"] is not None and options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        expires = timezone.now() + timedelta(days=options["days"]) if options["days"] else None
        try:
            created = api_token_create(user=user, name=options["name"], expires_at=expires)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"API token {created.token.prefix}… for {user} (shown only now):")
        self.stdout.write(created.raw)
