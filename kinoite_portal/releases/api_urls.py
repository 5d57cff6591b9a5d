from __future__ import annotations

app_name = "releases_api"

urlpatterns: list[object] = []
