from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic.base import RedirectView
from django.views.static import serve

from kinoite_portal.core import views as core_views
from kinoite_portal.core.signin import AdminSigninForm, SigninForm
from kinoite_portal.releases.views import dashboard, repo

admin.site.site_header = "Kinoite Portal administration"
admin.site.site_title = "Kinoite Portal admin"
admin.site.login_form = AdminSigninForm

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True, authentication_form=SigninForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", core_views.healthz, name="healthz"),
    path("livez", core_views.livez, name="livez"),
    path("admin/", admin.site.urls),
    path("releases/", include("kinoite_portal.releases.urls")),
    path("fleet/", include("kinoite_portal.fleet.urls")),
    path("rollouts/", include("kinoite_portal.rollouts.urls")),
    path("api/v1/", include("kinoite_portal.releases.api_urls")),
    path("api/v1/", include("kinoite_portal.fleet.api_urls")),
    path("api/v1/", include("kinoite_portal.rollouts.api_urls")),
    path("repo/<slug:stage>/<path:path>", repo.repo_file, name="repo_file"),
    path("sigstore/<slug:stage>/<path:path>", repo.sigstore_file, name="sigstore_file"),
    # Browsers ask for /favicon.ico on pages that do not name an icon, such as the admin's.
    path("favicon.ico", login_not_required(RedirectView.as_view(url=static("img/favicon.svg"), permanent=True))),
]

if settings.PORTAL_SERVE_FILES:
    # First-run mode: no Apache or nginx in front, so the portal serves its own static files.
    urlpatterns += [
        re_path(r"^static/(?P<path>.*)$", login_not_required(serve), {"document_root": settings.STATIC_ROOT}),
    ]
