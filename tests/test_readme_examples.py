"""The README stays true: its example requests, run against a live service, answer what it
documents (status codes, the fields of each documented output), and every classifier
version it shows is the running engine's."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass

import pytest
import requests

from conftest import ROOT, mock_config
from mock_api.testing import MockUpstreamServer
from support import follow_job_over_http

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
README = (ROOT / "README.md").read_text()
DOCUMENTED_HOST = "localhost:8000"


@dataclass
class Example:
    command: str  # the curl command line, continuation lines joined
    documented: str  # the output the README shows (a comment, or the lines after it)


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)


def joined_lines(block: str) -> list[str]:
    return block.replace("\\\n", " ").splitlines()


def quick_start_block() -> str:
    section = README[README.index("A first walk through the API"):]
    return code_blocks(section)[0]


def quick_start_examples() -> list[Example]:
    examples = []
    for line in joined_lines(quick_start_block()):
        if line.startswith("curl "):
            command, _, comment = line.partition("  # ")
            examples.append(Example(command.strip(), comment.strip()))
    return examples


def transcript_examples() -> list[Example]:
    """Every ``$ curl ...`` in a code block, with the output lines that follow it."""
    examples = []
    for block in code_blocks(README):
        current = None
        for line in joined_lines(block):
            if line.startswith("$ "):
                current = Example(line[2:].strip(), "")
                examples.append(current)
            elif current is not None:
                current.documented += line + "\n"
    return [e for e in examples if e.command.startswith("curl ")]


def run_curl(command: str, base_url: str, **placeholders: str) -> requests.Response:
    for name, value in placeholders.items():
        command = command.replace(f"<{name}>", value)
    args = shlex.split(command)[1:]
    method, headers, data, url = "GET", {}, None, None
    while args:
        arg = args.pop(0)
        if arg == "-s":
            continue
        if arg == "-X":
            method = args.pop(0)
        elif arg == "-H":
            name, _, value = args.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data = args.pop(0)
            method = "POST" if method == "GET" else method
        elif arg == "-o":
            args.pop(0)  # where curl would save the body: the test reads it instead
        else:
            assert arg.startswith(DOCUMENTED_HOST), arg
            url = base_url + arg[len(DOCUMENTED_HOST):]
    return requests.request(method, url, headers=headers, data=data, timeout=30)


def documented_keys(documented: str) -> set[str]:
    return set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)":', documented))


def keys_of(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def assert_documented_shape(example: Example, response: requests.Response) -> None:
    status = re.match(r"(\d{3})\b", example.documented)
    code = re.search(r'"code": (\d{3})', example.documented)
    expected = int(status.group(1)) if status else int(code.group(1)) if code else 200
    assert response.status_code == expected, (example.command, response.status_code, response.text[:300])
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        assert not documented_keys(example.documented), example.command  # a file (-o), no JSON shown
        return
    missing = documented_keys(example.documented) - keys_of(response.json())
    assert not missing, (example.command, sorted(missing), response.text[:500])


@pytest.fixture
def readme_service(gunicorn_service):
    """The service under gunicorn over the mock's data (``make run``'s seed; 800 tickets,
    not its 10,000: the examples check statuses and fields, which every size shows, and
    three runs over 10,000 took a minute), with pages of 20 so that a run lasts long
    enough for the quick start's second POST to find it still going."""
    from mock_api.config import MockConfig

    server = MockUpstreamServer(mock_config(seed=MockConfig().seed))
    try:
        yield server, gunicorn_service(EXTERNAL_API_URL=server.url, EXTERNAL_PAGE_SIZE="20")
    finally:
        server.stop()


def test_the_readme_examples_answer_what_the_readme_documents(readme_service):
    mock, service = readme_service
    assert quick_start_examples() and transcript_examples()

    # The quick start, in order: the second POST must find the first run still going.
    mock.admin("POST", "/admin/faults", json={"latency_s": 0.1})
    job_id = None
    for example in quick_start_examples():
        response = run_curl(example.command, service.url, job_id=job_id or "")
        assert_documented_shape(example, response)
        if "/ingest/run" in example.command and response.status_code == 202:
            job_id = response.json()["job_id"]
    mock.admin("POST", "/admin/faults", json={"latency_s": 0})
    assert follow_job_over_http(service.url, job_id)["status"] == "completed"

    # Its CLI line, verbatim, with the service's address from the environment.
    cli_line = next(line for line in quick_start_block().splitlines() if "ticketsvc ingest" in line)
    argv = shlex.split(cli_line.partition("  #")[0])
    assert argv[0] == ".venv/bin/ticketsvc"
    result = subprocess.run([sys.executable, "-m", "ticketsvc", *argv[1:]], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "TICKETSVC_URL": service.url}, timeout=120)
    assert result.returncode == 0, result.stderr

    # The transcripts: tkt-000002's history shows a deletion, as the README's does.
    mock.admin("POST", "/admin/mutate", json={"tenant_id": "tenant_a", "delete": ["tkt-000002"]})
    rerun = requests.post(f"{service.url}/ingest/run?tenant_id=tenant_a", timeout=5).json()["job_id"]
    assert follow_job_over_http(service.url, rerun)["status"] == "completed"
    for example in transcript_examples():
        command = re.sub(r"/ingest/progress/[0-9a-f]{32}", f"/ingest/progress/{job_id}", example.command)
        assert_documented_shape(example, run_curl(command, service.url))


def test_every_classifier_version_the_readme_shows_is_the_running_engines(make_app, live_server):
    service = live_server(make_app())
    running = requests.post(service.url + "/classify", json={"subject": "x", "message": "y"}, timeout=5).json()
    shown = set(re.findall(r'"version": "([^"]+)"', README))
    assert shown == {running["version"]}, f"README shows {sorted(shown)}, the engine is {running['version']}"
