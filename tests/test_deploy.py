"""deploy/: the Kubernetes manifests and the Compose file, checked without a cluster.

Loaded with PyYAML and held to what the API server and mockforge need: known kinds and API
versions, the fields each kind requires, selectors that match their pods, probes on paths
mockforge serves, ports that agree, a config mockforge accepts, resources at least the measured
footprint. (kubernetes-validate would check the full schemas, but it is a 22 MB wheel.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockforge.config import Config, _unknown_keys, build_config
from mockforge.http.app import HEALTH_PATHS

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "kubernetes"
API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Service": "v1", "ConfigMap": "v1"}
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def _manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                doc["__file"] = path.name
                docs.append(doc)
    return docs


DOCS = _manifests()


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}"
    return found[0]


def _bytes(quantity: str) -> int:
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity)
    assert m, quantity
    return int(m.group(1)) * UNITS[m.group(2)]


def test_kinds_api_versions_and_names() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in DOCS)
    assert kinds == [("ConfigMap", "mockforge-config"), ("Deployment", "mockforge"), ("Service", "mockforge"),
                     ("Service", "mockforge-redis"), ("StatefulSet", "mockforge-redis")]
    for doc in DOCS:
        assert doc["apiVersion"] == API_VERSIONS[doc["kind"]], doc["__file"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_workloads_select_their_own_pods_and_have_what_a_container_needs(kind: str) -> None:
    for doc in (d for d in DOCS if d["kind"] == kind):
        spec = doc["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        for c in spec["template"]["spec"]["containers"]:
            assert c["name"] and c["image"] and c["ports"]
            assert "memory" in c["resources"]["requests"] and "memory" in c["resources"]["limits"]
            assert _bytes(c["resources"]["requests"]["memory"]) <= _bytes(c["resources"]["limits"]["memory"])
        if kind == "StatefulSet":
            assert spec["serviceName"] in {d["metadata"]["name"] for d in DOCS if d["kind"] == "Service"}


def test_services_select_pods_and_target_named_container_ports() -> None:
    workloads = [d for d in DOCS if d["kind"] in ("Deployment", "StatefulSet")]
    for svc in (d for d in DOCS if d["kind"] == "Service"):
        selector = svc["spec"]["selector"]
        targets = [w for w in workloads if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert len(targets) == 1, svc["metadata"]["name"]
        names = {p["name"]: p["containerPort"] for c in targets[0]["spec"]["template"]["spec"]["containers"]
                 for p in c["ports"]}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in names, (svc["metadata"]["name"], port)


def test_the_deployment_runs_two_replicas_with_probes_on_mockforges_health_paths() -> None:
    dep = _one("Deployment", "mockforge")
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    for probe in ("readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] in HEALTH_PATHS and get["port"] in ports
    # mounted volumes exist, and the config the args name is the ConfigMap's key
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert set(mounts.values()) <= set(volumes)
    args = c["args"]
    config_path = args[args.index("--config") + 1]
    folder, _, key = config_path.rpartition("/")
    assert volumes[mounts[folder]]["configMap"]["name"] == "mockforge-config"
    assert key in _one("ConfigMap", "mockforge-config")["data"]


def test_the_deployment_points_shared_state_at_the_redis_service() -> None:
    c = _one("Deployment", "mockforge")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    url = env["MOCKFORGE_SHARED_STATE"]["value"]
    m = re.fullmatch(r"redis://([a-z0-9-]+):(\d+)/\d+", url)
    assert m, url
    redis_svc = _one("Service", m.group(1))
    assert int(m.group(2)) in {p["port"] for p in redis_svc["spec"]["ports"]}
    assert env["MOCKFORGE_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "token"


def test_the_configmap_is_a_config_mockforge_accepts_and_matches_the_pod() -> None:
    raw = yaml.safe_load(_one("ConfigMap", "mockforge-config")["data"]["mockforge.yaml"])
    assert _unknown_keys(raw, Config, "") == []
    cfg = build_config(raw, env={})
    dep = _one("Deployment", "mockforge")["spec"]["template"]["spec"]
    c = dep["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert cfg.http.port == ports["http"] and cfg.observability.metrics.port == ports["metrics"]
    assert cfg.http.host == "0.0.0.0" and cfg.observability.metrics.host == "0.0.0.0"
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    for spec in cfg.http.specs:
        assert spec.rpartition("/")[0] in mounts
    assert cfg.core.cache_dir in mounts  # writable (the root file system is read-only)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert "mockforge" in cfg.admin.allowed_hosts  # the Service's name is a Host the admin API accepts


def test_memory_requests_cover_the_measured_footprint() -> None:
    text = (ROOT / "docs" / "MEMORY_FOOTPRINT.md").read_text()
    m = re.search(r"\| Steady 1,000 req/s for 60 s \(all protocols\) \| ([\d.]+) MB", text)
    assert m, "docs/MEMORY_FOOTPRINT.md has no steady-load figure"
    c = _one("Deployment", "mockforge")["spec"]["template"]["spec"]["containers"][0]
    assert _bytes(c["resources"]["requests"]["memory"]) >= float(m.group(1)) * 1e6


def test_compose_runs_two_replicas_against_its_redis() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "mockforge"}
    mf = services["mockforge"]
    assert mf["deploy"]["replicas"] == 2
    assert (ROOT / "deploy" / mf["build"]["context"] / mf["build"]["dockerfile"]).is_file()
    assert mf["environment"]["MOCKFORGE_SHARED_STATE"] == "redis://redis:6379/0"
    assert mf["depends_on"]["redis"]["condition"] == "service_healthy"
    for volume in mf["volumes"]:
        host, container, _ = volume.split(":")
        assert (ROOT / "deploy" / host).is_file(), host
        assert container in mf["command"]  # the spec the command serves is the mounted file
    cmd = mf["command"]
    assert cmd[cmd.index("--http-port") + 1] == "3000"
    assert all(p.endswith(":3000") for p in mf["ports"])


def test_the_dockerfile_installs_the_package_and_runs_mockforge() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN pip install --no-cache-dir \.", text, re.M)
    assert 'ENTRYPOINT ["mockforge"]' in text
    assert re.search(r"^USER \d+", text, re.M)  # not root
    assert "COPY src ./src" in text
