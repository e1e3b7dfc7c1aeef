"""prefect.yaml: every deployment's entrypoint loads, and flow, file and deployment share one name."""

import yaml
from prefect.flows import load_flow_from_entrypoint

from tests.conftest import ROOT


def test_every_deployment_entrypoint_loads_the_flow_of_its_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    assert config["deployments"]
    for deployment in config["deployments"]:
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        assert flow.name == deployment["name"]
        assert deployment["entrypoint"] == f"flows/{deployment['name']}.py:{deployment['name']}"
