"""docker-compose runs MongoDB as a replica set and the migrate step before the app; CI runs
``make test`` against a MongoDB 7 replica set. Checked from the files themselves."""
from __future__ import annotations

from pathlib import Path

import yaml

from ticketsvc import cli
from ticketsvc.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_compose_runs_mongodb_as_a_replica_set_initiated_by_its_healthcheck():
    mongo = _compose()["mongo"]
    assert mongo["image"].startswith("mongo:7")
    assert mongo["command"][mongo["command"].index("--replSet") + 1] == "rs0"
    check = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate({_id: 'rs0'" in check and "isWritablePrimary" in check


def test_compose_runs_migrate_once_before_the_app_on_the_same_database():
    services = _compose()
    migrate, app = services["migrate"], services["app"]
    assert migrate["command"][:3] == ["python", "-m", "ticketsvc"]
    args = cli.build_parser().parse_args(migrate["command"][3:])
    assert (args.command, args.db_command) == ("db", "migrate")
    assert migrate["restart"] == "no" and migrate["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for key in ("MONGO_URL", "MONGO_DB"):
        assert migrate["environment"][key] == app["environment"][key]
    settings = Settings.from_env({"MONGO_URL": app["environment"]["MONGO_URL"], "MONGO_DB": "ticketsvc"})
    assert "replicaSet=rs0" in settings.mongo_url and not settings.embedded


def test_ci_runs_make_test_against_a_mongodb_7_replica_set():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    (job,) = workflow["jobs"].values()
    assert job["env"]["TEST_MONGO_URL"].startswith("mongodb://") and "replicaSet=rs0" in job["env"]["TEST_MONGO_URL"]
    scripts = "\n".join(step.get("run", "") for step in job["steps"])
    assert "mongo:7.0" in scripts and "--replSet rs0" in scripts and "rs.initiate" in scripts
    assert any(step.get("run") == "make test" for step in job["steps"])
