"""Real web servers for the deployment tests: the shipped configs rendered by the portal's own command.

nginx and Apache run as children of the test on a free loopback port, with the files under deploy/ rendered by
``manage.py render_webserver_config``; a real ``ostree`` client pulls through them over TLS (a throwaway
self-signed certificate the client trusts through ``tls-ca-path``). Started as root, the servers' workers run
as ``nobody``, as a real web server user would: the served folders live in a world-readable temporary folder,
because pytest's own ``tmp_path`` is 0700.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from kinoite_portal.ostree import Repo, build_tree
from tests.ostree.helpers import KERNEL_VERSION, sample_packages
from tests.services import free_port, stop_process, wait_for_port

PROD_REF = "fedora/x86_64/kinoite/stable"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
# What RHEL's conf.modules.d/*.conf load and the drop-in relies on (it has no LoadModule line of its own).
APACHE_RHEL_MODULES = [
    "mpm_event",
    "authz_core",
    "authz_host",
    "alias",
    "mime",
    "allowmethods",
    "headers",
    "proxy",
    "proxy_http",
    "ssl",
    "socache_shmcb",
    "setenvif",
]
APACHE_BUILTIN_ON_DEBIAN = ["unixd", "log_config", "logio", "version"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fail loudly, not skip, when a server binary is missing: `make test` installs them."""
    for binary in ("ostree", "openssl"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is not installed: run deploy/dev/install-system-packages.sh test")


@dataclass
class Site:
    """A world-readable folder that holds what the web server serves, plus the TLS files."""

    root: Path
    repo_root: Path
    static_root: Path
    socket: Path
    cert: Path
    key: Path

    def render(self, server: str, port: int, dest: Path) -> Path:
        """Render the shipped config for this site with the portal's own command, and return its path."""
        call_command(
            "render_webserver_config",
            server=server,
            repo_root=str(self.repo_root),
            socket=str(self.socket),
            static_root=str(self.static_root),
            server_name="127.0.0.1",
            port=port,
            listen_address="127.0.0.1",
            cert=str(self.cert),
            key=str(self.key),
            output=str(dest),
        )
        return dest


@pytest.fixture
def site() -> Iterator[Site]:
    root = Path(tempfile.mkdtemp(prefix="kp-deploy-"))
    try:
        root.chmod(0o755)
        (root / "static" / "css").mkdir(parents=True)
        (root / "static" / "css" / "portal.css").write_text("body { color: black; }\n")
        (root / "run").mkdir()
        (root / "tls").mkdir()
        cert, key = root / "tls" / "portal.crt", root / "tls" / "portal.key"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        yield Site(
            root=root,
            repo_root=root / "ostree",
            static_root=root / "static",
            socket=root / "run" / "gunicorn.sock",
            cert=cert,
            key=key,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class ProdRepo:
    repo: Repo
    checksum: str


@pytest.fixture
def prod_repo(site: Site, tmp_path: Path) -> ProdRepo:
    """Build the prod repo the way the portal does: a tree, a commit under the prod ref, a summary."""
    repo = Repo.init(site.repo_root / "prod", mode="archive", timeout=60)
    tree = tmp_path / "tree"
    build_tree(
        tree,
        treefile={"ref": PROD_REF, "packages": ["bash", "kernel"]},
        packages=sample_packages(),
        version="41.20261125.0",
        kernel_version=KERNEL_VERSION,
    )
    checksum = repo.commit(
        branch=PROD_REF, subject="Kinoite 41.20261125.0", tree_dir=tree, metadata={"version": "41.20261125.0"}
    )
    repo.update_summary()
    # Private things a repo holds that must never be served.
    (repo.path / ".secret").write_text("dotfile\n")
    (repo.path / "tmp" / "scratch").write_text("work in progress\n")
    return ProdRepo(repo=repo, checksum=checksum)


def _ancestors_searchable(path: Path) -> None:
    for parent in path.parents:
        if parent == Path("/"):
            break
        assert parent.stat().st_mode & 0o001, f"{parent} is not searchable by the web server user"


@contextmanager
def run_nginx(site: Site, workdir: Path) -> Iterator[int]:
    """Run the real nginx with the shipped drop-in, included the way /etc/nginx/nginx.conf includes conf.d/."""
    binary = shutil.which("nginx") or pytest.fail("nginx is not installed: deploy/dev/install-system-packages.sh test")
    _ancestors_searchable(site.repo_root)
    port = free_port()
    (workdir / "conf.d").mkdir(parents=True)
    (workdir / "tmp").mkdir()
    site.render("nginx", port, workdir / "conf.d" / "kinoite-portal.conf")
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {workdir}/tmp/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = workdir / "nginx.conf"
    conf.write_text(f"""daemon off;
worker_processes 1;
{user}
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {workdir}/access.log;
{temp_paths}
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    include {workdir}/conf.d/*.conf;
}}
""")
    check = subprocess.run(
        [binary, "-t", "-q", "-p", f"{workdir}/", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([binary, "-p", f"{workdir}/", "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        yield port
    finally:
        stop_process(proc, timeout=10)


@contextmanager
def run_apache(site: Site, workdir: Path) -> Iterator[int]:
    """Run Debian's apache2 with the shipped conf.d drop-in inside a throwaway RHEL-like ServerRoot."""
    binary = shutil.which("apache2") or "/usr/sbin/apache2"
    if not Path(binary).exists():
        pytest.fail("apache2 is not installed: deploy/dev/install-system-packages.sh test")
    _ancestors_searchable(site.repo_root)
    port = free_port()
    for sub in ("conf", "conf.d", "conf.modules.d", "logs", "run"):
        (workdir / sub).mkdir(parents=True)
    (workdir / "modules").symlink_to(APACHE_MODULES)
    lines = [f"LoadModule {m}_module modules/mod_{m}.so" for m in APACHE_RHEL_MODULES]
    lines += [
        f"<IfModule !{m}_module>\n    LoadModule {m}_module modules/mod_{m}.so\n</IfModule>"
        for m in APACHE_BUILTIN_ON_DEBIAN
    ]
    (workdir / "conf.modules.d" / "00-base.conf").write_text("\n".join(lines) + "\n")
    site.render("apache", port, workdir / "conf.d" / "kinoite-portal.conf")
    user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
    conf = workdir / "conf" / "httpd.conf"
    conf.write_text(f"""ServerRoot "{workdir}"
DefaultRuntimeDir "run"
PidFile "run/httpd.pid"
ServerName 127.0.0.1
ErrorLog "logs/error_log"
LogLevel warn
{user}Include conf.modules.d/*.conf
StartServers 1
ServerLimit 1
ThreadsPerChild 10
MaxRequestWorkers 10
MinSpareThreads 1
MaxSpareThreads 10
TypesConfig /etc/mime.types
SSLSessionCache "shmcb:run/sslcache(512000)"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
IncludeOptional conf.d/*.conf
""")
    check = subprocess.run([binary, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30, check=False)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([binary, "-f", str(conf), "-DFOREGROUND"], stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        yield port
    finally:
        stop_process(proc, timeout=10)
        # Apache's children may outlive the parent by a moment; the port must be free for the next test.
        time.sleep(0.05)


@dataclass(frozen=True)
class WebServer:
    name: str
    port: int


SERVERS = {"apache": run_apache, "nginx": run_nginx}


@pytest.fixture(params=sorted(SERVERS))
def web_server(request: pytest.FixtureRequest, site: Site, prod_repo: ProdRepo, tmp_path: Path) -> Iterator[WebServer]:
    """Yield each shipped web server in turn (or the one a test names with ``indirect``), serving ``prod_repo``."""
    name = request.param
    with SERVERS[name](site, tmp_path / name) as port:
        yield WebServer(name, port)


def repo_state(repo: Repo) -> tuple[str, list[Path]]:
    """Return the summary's SHA-256 and every path in the repo: what a refused write must leave as it was."""
    summary = hashlib.sha256((repo.path / "summary").read_bytes()).hexdigest()
    return summary, sorted(p.relative_to(repo.path) for p in repo.path.rglob("*"))


def https_request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTPS request to 127.0.0.1:port (self-signed certificate) and return status, headers, body."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=15)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture
def ostree_pull(tmp_path: Path) -> Callable[..., str]:
    """Return a function: pull the prod ref through https://127.0.0.1:PORT/repo/prod with a real ostree client."""

    def pull(port: int, stage: str = "prod", *, ca: Path) -> str:
        client = tmp_path / f"client-{port}"
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}

        def ostree(*args: str) -> str:
            result = subprocess.run(
                ["ostree", *args, f"--repo={client}"], capture_output=True, text=True, timeout=60, env=env, check=False
            )
            assert result.returncode == 0, f"ostree {' '.join(args)}: {result.stderr}"
            return result.stdout.strip()

        ostree("init", "--mode=archive")
        # The client verifies the server's certificate against the throwaway one, as a desktop would with
        # the company CA (tls-permissive is ignored by this ostree's curl backend).
        ostree(
            "remote",
            "add",
            "--no-gpg-verify",
            f"--set=tls-ca-path={ca}",
            "portal",
            f"https://127.0.0.1:{port}/repo/{stage}",
        )
        ostree("pull", "portal", PROD_REF)
        return ostree("rev-parse", f"portal:{PROD_REF}")

    return pull
