from __future__ import annotations

app_name = "fleet_api"

urlpatterns: list[object] = []
