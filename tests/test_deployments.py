"""prefect.yaml: every flow has a deployment, every entrypoint loads, and flow, file and deployment share one
name; shared settings come from `definitions:`."""

import ast
from typing import Any

import yaml
from prefect.flows import load_flow_from_entrypoint

from tests.conftest import ROOT


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return loaded


def test_every_deployment_entrypoint_loads_the_flow_of_its_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    assert config()["deployments"]
    for deployment in config()["deployments"]:
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        assert flow.name == deployment["name"]
        assert deployment["entrypoint"] == f"flows/{deployment['name']}.py:{deployment['name']}"


def test_every_flow_in_flows_has_a_deployment() -> None:
    flows = set()
    for path in (ROOT / "flows").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", None) == "flow" for d in node.decorator_list
            ):
                flows.add(f"flows/{path.name}:{node.name}")
    assert flows == {d["entrypoint"] for d in config()["deployments"]}


def test_deployments_share_the_pool_and_run_from_the_repository() -> None:
    project = config()
    pool = project["definitions"]["work_pools"]["chidao"]
    assert all(d["work_pool"] == pool for d in project["deployments"])
    assert project["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $CHIDAO_HOME }}"}}]
    remind = next(d for d in project["deployments"] if d["name"] == "remind")
    assert remind["schedules"] == [{"cron": "0 7 * * 1-5", "timezone": "Asia/Ho_Chi_Minh"}]
