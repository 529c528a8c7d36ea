"""Why the deploy puts nginx in front of gunicorn: slow clients hold gunicorn's threads, not
nginx's event loop. nginx runs here as a local process, with a configuration rendered from
the same template docker-compose mounts (deploy/nginx/ticketsvc.conf.template)."""
from __future__ import annotations

import shutil
import socket
import string
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                                 reason="needs nginx (Debian: apt-get install nginx-light; .ci/run installs it)")]
TEMPLATE = ROOT / "deploy" / "nginx" / "ticketsvc.conf.template"
SLOW_CLIENTS = 20


def render_template(upstream: str, port: int) -> str:
    """What the nginx image's envsubst step makes of the template (nginx's own $variables
    are left alone)."""
    return string.Template(TEMPLATE.read_text()).safe_substitute(TICKETSVC_UPSTREAM=upstream, NGINX_PORT=str(port))


class LocalNginx:
    def __init__(self, directory: Path, upstream: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ticketsvc.conf").write_text(render_template(upstream, self.port).replace(
            f"listen {self.port};", f"listen 127.0.0.1:{self.port};"))
        temp = {name: directory / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        (directory / "nginx.conf").write_text(f"""
daemon off;
{"user root;" if _root() else ""}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {directory}/ticketsvc.conf;
}}
""")
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen([binary, "-p", str(directory), "-c", str(directory / "nginx.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("nginx exited: " + self.process.stdout.read())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _root() -> bool:
    import os

    return os.geteuid() == 0


class SlowClients:
    """Half send their request headers a byte at a time, half send full headers and then
    drip a body; each keeps its connection busy until stopped."""

    def __init__(self, port: int, count: int):
        self.stopping = threading.Event()
        self.connected = threading.Barrier(count + 1)
        self.threads = [threading.Thread(target=self._run, args=(port, i % 2 == 0), daemon=True) for i in range(count)]
        for thread in self.threads:
            thread.start()
        self.connected.wait(timeout=10)

    def _run(self, port: int, headers_only: bool) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            if headers_only:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: slow\r\n")
            else:
                sock.sendall(b"POST /ingest/run?tenant_id=tenant_a HTTP/1.1\r\nHost: slow\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n")
            self.connected.wait(timeout=10)
            while not self.stopping.wait(0.3):
                sock.sendall(b"X-Slow: 1\r\n" if headers_only else b" ")
        except OSError:
            return  # the server (or nginx) hung up on the slow client: what a timeout should do
        finally:
            sock.close()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)


def health_answers(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def test_the_rendered_template_is_a_valid_nginx_configuration(tmp_path):
    nginx = LocalNginx(tmp_path / "nginx", "127.0.0.1:9")
    nginx.stop()


def test_twenty_slow_clients_stall_gunicorn_alone_but_not_gunicorn_behind_the_buffering_proxy(gunicorn_service,
                                                                                               tmp_path):
    service = gunicorn_service(GUNICORN_THREADS="8")
    nginx = LocalNginx(tmp_path / "nginx", f"127.0.0.1:{service.port}")
    try:
        # Behind nginx: every slow client is held by nginx; gunicorn's threads stay free.
        proxied = SlowClients(nginx.port, SLOW_CLIENTS)
        try:
            assert all(health_answers(nginx.url) for _ in range(5))
        finally:
            proxied.stop()

        # The same clients straight at gunicorn take every thread: /health stops answering.
        direct = SlowClients(service.port, SLOW_CLIENTS)
        try:
            time.sleep(0.5)
            assert not health_answers(service.url)
        finally:
            direct.stop()
        assert health_answers(service.url)
    finally:
        nginx.stop()


def test_the_proxy_refuses_a_body_over_the_size_limit_before_reading_it(gunicorn_service, tmp_path):
    service = gunicorn_service()
    nginx = LocalNginx(tmp_path / "nginx", f"127.0.0.1:{service.port}")
    try:
        response = requests.post(nginx.url + "/classify", data=b"x" * 100_000,
                                 headers={"Content-Type": "application/json"}, timeout=5)
        assert response.status_code == 413
        assert requests.get(nginx.url + "/health", headers={"X-Request-ID": "via-proxy-1"},
                            timeout=5).headers["X-Request-ID"] == "via-proxy-1"
    finally:
        nginx.stop()
