"""The hosts page's proxy configurations, as written there, in front of two lab servers: every request of a browser's
session reaches the one process that holds the session (its websocket, and the pictures of its page, which that
process alone keeps in memory), and new browsers are spread over both processes.

Each proxy (nginx, Caddy) runs from the hosts page's own block, with only the addresses changed and a response header
added that names the process that answered. Both servers share one runs folder, with one run the CLI trained, so
the Mistakes page shows its gallery of pictures. `make browser` installs both proxies (apt) with Chromium.
"""

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from benchmarks.mistakes_page import IMAGES_READY, open_mistakes
from tests.browser.lab_server import free_port, start_lab_server, stop_lab_server, unavailable
from tests.lab_helpers import REPO, wait_until_serving

pytestmark = pytest.mark.browser
UPSTREAM = "X-Lab-Upstream"  # the test's own header: which lab server answered
HOSTS_PAGE = REPO / "docs" / "hosts.md"  # where a host reads the proxies' configurations
HOSTS_PAGE_PORTS = ("127.0.0.1:8501", "127.0.0.1:8502", "127.0.0.1:8503")
NEW_VISITORS = 20  # first visits without cookies: all on one server would be 2 in 2^20 by chance


def hosts_page_block(language: str) -> str:
    """The hosts page's one fenced block in `language`."""
    (block,) = re.findall(rf"^```{language}\n(.*?)^```", HOSTS_PAGE.read_text(), re.S | re.M)
    return block


def with_servers(block: str, servers: list[str]) -> str:
    """The hosts page's three upstream addresses replaced by the test's two servers (the third is dropped)."""
    first, second, third = HOSTS_PAGE_PORTS
    block = re.sub(rf"\s*server {re.escape(third)};", "", block)  # nginx
    block = block.replace(f" {third}", "")  # Caddy
    return block.replace(first, servers[0]).replace(second, servers[1])


def nginx_config(folder: Path, port: int, servers: list[str]) -> list[str]:
    """nginx's arguments, with the hosts page's block in a configuration of the test's own folders (answers are passed
    on as they come, never buffered to a file: nginx's workers run as nobody, and pytest's folders are root's)."""
    block = with_servers(hosts_page_block("nginx"), servers).replace("listen 80;", f"listen 127.0.0.1:{port};")
    block = block.replace("proxy_pass http://lab;", f"proxy_pass http://lab;\n        add_header {UPSTREAM} "
                                                   "$upstream_addr always;")
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    config = folder / "nginx.conf"
    config.write_text(
        f"daemon off;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\nevents {{}}\nhttp {{\n"
        f"access_log {folder / 'access.log'};\nclient_body_temp_path {temp['body']};\n"
        f"proxy_temp_path {temp['proxy']};\nfastcgi_temp_path {temp['fastcgi']};\nuwsgi_temp_path {temp['uwsgi']};\n"
        f"scgi_temp_path {temp['scgi']};\nproxy_max_temp_file_size 0;\n{block}}}\n")
    return ["-p", str(folder), "-c", str(config)]


def caddy_config(folder: Path, port: int, servers: list[str]) -> list[str]:
    """Caddy's arguments, with the hosts page's block served over plain HTTP on the test's port."""
    block = with_servers(hosts_page_block("caddy"), servers).replace("lab.school.edu {", f"http://127.0.0.1:{port} {{")
    block = block.replace("health_uri /_stcore/health", "health_uri /_stcore/health\n        header_down "
                                                        f"{UPSTREAM} {{http.reverse_proxy.upstream.hostport}}")
    config = folder / "Caddyfile"
    config.write_text("{\n    admin off\n}\n" + block)
    return ["run", "--config", str(config), "--adapter", "caddyfile"]


PROXIES = {"nginx": nginx_config, "caddy": caddy_config}


@pytest.fixture(scope="module")
def lab_servers(tmp_path_factory):
    """Two lab servers on one runs folder that holds one short run (the CLI's); their host:port."""
    folder = tmp_path_factory.mktemp("proxied")
    subprocess.run([sys.executable, "-m", "core.train", "--epochs", "1", "--train-subset", "2000", "--runs-dir",
                    str(folder / "runs"), "--json", "--no-progress"], cwd=REPO, check=True, capture_output=True,
                   timeout=300)
    started = []
    try:
        for name in ("a", "b"):
            started.append(start_lab_server(folder / "runs", folder / f"streamlit-{name}.log", executor="threads",
                                            extra_env={"MNIST_LAB_BEHIND_PROXY": "1"}))
        yield [url.removeprefix("http://") for _, url in started]
    finally:
        for server, _ in started:
            stop_lab_server(server)


@pytest.fixture(params=sorted(PROXIES))
def proxy(request, lab_servers, tmp_path):
    """The hosts page's configuration of one proxy in front of both servers; its base URL."""
    binary = shutil.which(request.param) or shutil.which(request.param, path="/usr/sbin")
    if binary is None:
        unavailable(f"{request.param} is not installed: `make browser` installs it as root")
    port = free_port()
    command = [binary, *PROXIES[request.param](tmp_path, port, lab_servers)]
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    with open(tmp_path / "proxy.log", "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, lambda: upstream_of(url), 30, "the proxy to answer", tmp_path / "proxy.log")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def upstream_of(url: str) -> str | None:
    """Which server answered a cookie-less request for the app's page through the proxy (None: no answer)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.headers.get(UPSTREAM)
    except OSError:
        return None


def test_each_browser_stays_on_one_server_and_new_browsers_are_spread_over_both(proxy, lab_servers, browser):
    assert {upstream_of(proxy) for _ in range(NEW_VISITORS)} == set(lab_servers)  # not a whole class on one

    for _ in range(2):  # two students
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        answered_by: list[tuple[str, str | None]] = []  # (address, the server that answered) of each response
        context.on("response", lambda response, into=answered_by: into.append(
            (response.url, response.headers.get(UPSTREAM.lower()))))
        tab = context.new_page()
        try:
            open_mistakes(tab, proxy)  # the gallery's pictures all loaded (IMAGES_READY): none went astray
            assert "mnist_lab_owner" in {cookie["name"] for cookie in context.cookies()}  # the lab's own cookie came
            tab.reload()  # a new session of the same browser, now with every cookie
            tab.wait_for_function(IMAGES_READY, arg=1, timeout=30_000)
            servers = {server for _, server in answered_by}
            assert len(servers) == 1 and servers <= set(lab_servers), answered_by
            assert any("/media/" in url for url, _ in answered_by)  # the pictures: kept by one server alone
        finally:
            context.close()
