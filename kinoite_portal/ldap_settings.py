"""Directory sign-in settings; filled in when AUTH_LDAP_SERVER_URI is set."""

from __future__ import annotations
