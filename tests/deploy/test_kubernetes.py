"""deploy/kubernetes, checked without a cluster (deploy/kubernetes/README.md):
every overlay renders with ``kubectl kustomize`` (scripts/check-deploy also
validates it against the Kubernetes API schemas), the rendered objects pass
a lint of obvious mistakes, and they stay equal to docker-compose.yml: every
compose service has a workload, and every setting compose passes to a
service is set in that workload's container.

The compose side is what ``docker compose config`` resolves (the Compose v2
CLI: env_file merged in, interpolation done), with .env.example as .env and
the ``dev`` profile, so nothing here re-implements Compose.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from deploylib import KUSTOMIZE_DIR, OVERLAYS, REPO, compose_config, kustomize

#: compose service -> (kind, name, container) of its workload.
WORKLOADS = {
    "gateway": ("Deployment", "gateway", "gateway"),
    "backend": ("Deployment", "backend", "backend"),
    "notes": ("Deployment", "notes", "notes"),
    "frontend": ("Deployment", "frontend", "frontend"),
    # compose: one process looping `flask purge --every 3600`; here the
    # cluster runs `flask purge` hourly.
    "purge": ("CronJob", "purge", "purge"),
    "db": ("StatefulSet", "db", "db"),
    "redis": ("Deployment", "redis", "redis"),
    "dev-idp": ("Deployment", "dev-idp", "dev-idp"),
}
#: compose services without a workload, and what stands in for them.
NOT_WORKLOADS = {
    # It generates the database password into a volume; on Kubernetes the
    # operator creates the Secret authgw-database (README "Secrets to create").
    "db-init": ("Secret", "authgw-database"),
}
#: Run in the cluster by the dev overlay only: production uses a managed
#: database and Redis, and Google instead of the dev IdP.
DEV_ONLY_SERVICES = {"db", "redis", "dev-idp"}
#: Settings compose passes that production leaves out, with the reason.
DEV_ONLY_SETTINGS = {
    # Production refuses the dev IdP (backend/authgw/config.py).
    "backend": {"DEV_IDP_URL", "DEV_IDP_INTERNAL_URL"},
    "purge": {"DEV_IDP_URL", "DEV_IDP_INTERNAL_URL"},
}
#: Workloads with a HorizontalPodAutoscaler (issue: several replicas).
AUTOSCALED = {"gateway", "backend", "notes"}
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[dict]]:
    folder = tmp_path_factory.mktemp("kustomize")
    return {overlay: kustomize(overlay, folder) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def compose_services(tmp_path_factory) -> dict:
    return compose_config(tmp_path_factory.mktemp("compose"), "--profile", "dev")["services"]


def objects(docs: list[dict], kind: str | None = None) -> list[dict]:
    return [doc for doc in docs if kind is None or doc["kind"] == kind]


def find(docs: list[dict], kind: str, name: str) -> dict | None:
    return next((doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name), None)


def pod_spec(workload: dict) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return workload["spec"]["template"]["metadata"]["labels"]


def containers(workload: dict, init: bool = True) -> list[dict]:
    spec = pod_spec(workload)
    return list(spec["containers"]) + (list(spec.get("initContainers") or []) if init else [])


def workloads(docs: list[dict]) -> list[dict]:
    return [doc for doc in docs if doc["kind"] in POD_KINDS]


def generated_name(docs: list[dict], kind: str, name: str) -> dict:
    """The ConfigMap or Secret named ``name`` (kustomize adds a hash suffix
    to generated ones and rewrites the references, so the reference is the
    rendered name)."""
    found = find(docs, kind, name)
    assert found, f"{kind} {name} is referenced but not rendered"
    return found


def container_settings(docs: list[dict], container: dict) -> dict[str, str | None]:
    """Every environment variable a container gets: ``env`` entries (value,
    or None for valueFrom) and the keys of ``envFrom`` ConfigMaps (values)
    and rendered Secrets."""
    settings: dict[str, str | None] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            settings |= generated_name(docs, "ConfigMap", source["configMapRef"]["name"]).get("data", {})
        elif "secretRef" in source:
            secret = find(docs, "Secret", source["secretRef"]["name"])
            assert secret, f"envFrom Secret {source['secretRef']['name']}: its keys cannot be checked unrendered"
            settings |= {key: None for key in secret.get("data", {})}
    for entry in container.get("env") or []:
        value = entry.get("value")
        source = entry.get("valueFrom") or {}
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            value = generated_name(docs, "ConfigMap", ref["name"]).get("data", {}).get(ref["key"])
        elif "secretKeyRef" in source:
            secret = find(docs, "Secret", source["secretKeyRef"]["name"])  # rendered: the dev overlay's own
            if secret and source["secretKeyRef"]["key"] in secret.get("data", {}):
                value = base64.b64decode(secret["data"][source["secretKeyRef"]["key"]]).decode()
        settings[entry["name"]] = value
    return settings


# --- the overlays render; release and images ----------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders(rendered, overlay):
    kinds = {doc["kind"] for doc in rendered[overlay]}
    assert {"Deployment", "Service", "ConfigMap", "CronJob", "PodDisruptionBudget", "HorizontalPodAutoscaler",
            "NetworkPolicy", "Namespace"} <= kinds
    namespaces = {doc["metadata"].get("namespace") for doc in rendered[overlay] if doc["kind"] != "Namespace"}
    assert len(namespaces) == 1 and None not in namespaces, namespaces


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned_and_share_the_release_tag(rendered, overlay):
    release = (KUSTOMIZE_DIR / "overlays" / overlay / "release.yaml").read_text(encoding="utf-8")
    tag = re.search(r'^\s*tag:\s*"?([^"\s]+)"?\s*$', release, re.MULTILINE).group(1)
    own = set()
    for workload in workloads(rendered[overlay]):
        for container in containers(workload):
            image = container["image"]
            name, _, image_tag = image.rpartition(":")
            assert name and "/" not in image_tag, f"{image}: no tag"
            assert image_tag != "latest", image
            if re.search(r"(^|/)authgw/", name):
                own.add(image_tag)
    assert own == {tag}, f"images built from this repository must all carry release.yaml's tag {tag}: {own}"


def test_external_images_are_those_of_compose(rendered, compose_services):
    """The dev overlay runs the images compose runs (MariaDB 10.11, Redis)."""
    for service in ("db", "redis"):
        kind, name, container = WORKLOADS[service]
        workload = find(rendered["dev"], kind, name)
        image = next(c for c in containers(workload) if c["name"] == container)["image"]
        assert image == compose_services[service]["image"], service


@pytest.mark.parametrize("service", ["backend", "notes", "gateway", "frontend", "dev-idp", "purge"])
def test_own_images_are_compose_images(rendered, compose_services, service):
    kind, name, container = WORKLOADS[service]
    workload = find(rendered["dev"], kind, name)
    image = next(c for c in containers(workload) if c["name"] == container)["image"]
    assert image.rpartition(":")[0] == compose_services[service]["image"].rpartition(":")[0]


# --- lint: what a careful reviewer would refuse ------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(rendered, overlay):
    for workload in workloads(rendered[overlay]):
        for container in containers(workload):
            resources = container.get("resources") or {}
            where = f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}"
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part) or {}), f"{where}: {part}"
            assert _bytes(resources["limits"]["memory"]) >= _bytes(resources["requests"]["memory"]), where


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    match = re.fullmatch(r"(\d+)([KMG]i?)?", str(quantity))
    assert match, quantity
    return int(match.group(1)) * units.get(match.group(2) or "", 1)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_container_has_probes(rendered, overlay):
    for workload in workloads(rendered[overlay]):
        if workload["kind"] not in LONG_RUNNING:
            continue
        for container in containers(workload, init=False):
            where = f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}"
            assert container.get("readinessProbe"), f"{where}: no readinessProbe"
            assert container.get("livenessProbe"), f"{where}: no livenessProbe"
            named = {port.get("name") for port in container.get("ports") or []}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                port = (container.get(probe) or {}).get("httpGet", (container.get(probe) or {}).get("tcpSocket", {})).get("port")
                if isinstance(port, str):
                    assert port in named, f"{where}: {probe} names port {port!r}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_unprivileged_with_a_read_only_root(rendered, overlay):
    for workload in workloads(rendered[overlay]):
        spec = pod_spec(workload)
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        pod = spec.get("securityContext") or {}
        assert pod.get("runAsNonRoot") is True, where
        assert pod.get("runAsUser", 0) != 0, f"{where}: runAsUser 0"
        assert (pod.get("seccompProfile") or {}).get("type") == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, f"{where}: mounts an API token it never uses"
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(host), f"{where}: {host}"
        assert not [volume for volume in spec.get("volumes") or [] if "hostPath" in volume], f"{where}: hostPath"
        for container in containers(workload):
            context = container.get("securityContext") or {}
            at = f"{where}/{container['name']}"
            assert context.get("privileged") in (None, False), f"{at}: privileged"
            assert context.get("allowPrivilegeEscalation") is False, at
            assert context.get("readOnlyRootFilesystem") is True, at
            assert (context.get("capabilities") or {}).get("drop") == ["ALL"], at
            assert not (context.get("capabilities") or {}).get("add"), at
            assert context.get("runAsUser", 1) != 0, at


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscalers_and_disruption_budgets(rendered, overlay):
    docs = rendered[overlay]
    scaled = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in objects(docs, "HorizontalPodAutoscaler")}
    assert scaled == AUTOSCALED
    for hpa in objects(docs, "HorizontalPodAutoscaler"):
        target = find(docs, hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"])
        assert target, hpa["metadata"]["name"]
        assert "replicas" not in target["spec"], f"{target['metadata']['name']}: replicas fights the HPA on apply"
        assert all("cpu" in container["resources"]["requests"] for container in containers(target))
    budgets = objects(docs, "PodDisruptionBudget")
    for name in AUTOSCALED | {"frontend"}:
        labels = pod_labels(find(docs, "Deployment", name))
        assert [pdb for pdb in budgets if _selects(pdb["spec"]["selector"]["matchLabels"], labels)], name


def _selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_and_network_policies_select_workloads(rendered, overlay):
    docs = rendered[overlay]
    pods = [pod_labels(workload) for workload in workloads(docs)]
    for service in objects(docs, "Service"):
        selector = service["spec"]["selector"]
        matching = [workload for workload in workloads(docs) if _selects(selector, pod_labels(workload))]
        assert matching, f"Service {service['metadata']['name']} selects no workload"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            exposed = {(p.get("name"), p["containerPort"]) for w in matching for c in containers(w, init=False)
                       for p in c.get("ports") or []}
            assert any(target in pair for pair in exposed), f"Service {service['metadata']['name']}: {target}"
    policies = objects(docs, "NetworkPolicy")
    assert [p for p in policies if p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress"]
            and not p["spec"].get("ingress")], "no default-deny ingress policy"
    for policy in policies:
        selector = policy["spec"]["podSelector"].get("matchLabels")
        if selector:
            assert [labels for labels in pods if _selects(selector, labels)], policy["metadata"]["name"]
    # Every workload with a Service is reachable through some policy.
    for service in objects(docs, "Service"):
        allowed = [p for p in policies if p["spec"].get("ingress")
                   and _selects(p["spec"]["podSelector"].get("matchLabels") or {}, service["spec"]["selector"])]
        assert allowed, f"nothing may reach Service {service['metadata']['name']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_reaches_the_services_and_only_services_the_database(rendered, overlay):
    docs = rendered[overlay]

    def sources(name: str) -> set[str]:
        policy = find(docs, "NetworkPolicy", name)
        if policy is None:
            return set()
        names = set()
        for rule in policy["spec"]["ingress"]:
            for peer in rule.get("from") or [{"anyone": True}]:
                names.add(((peer.get("podSelector") or {}).get("matchLabels") or {}).get("app.kubernetes.io/name", "*"))
        return names

    assert sources("gateway") == {"*"}
    assert sources("notes") == {"gateway"}
    assert sources("frontend") == {"gateway"}
    assert sources("backend") == {"gateway", "notes"}, "notes reads the JWK Set and the revocation feed"
    if overlay == "dev":
        assert sources("db") == {"backend", "notes", "purge"}
        assert sources("redis") <= {"backend", "purge", "gateway"}
        assert sources("dev-idp") == {"backend"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_references_resolve(rendered, overlay):
    """ConfigMap keys exist, mounted files are under a mount, the Ingress
    reaches the gateway."""
    docs = rendered[overlay]
    for workload in workloads(docs):
        spec = pod_spec(workload)
        volumes = {volume["name"]: volume for volume in spec.get("volumes") or []}
        claims = {claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates") or []}
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            mounts = [mount["mountPath"] for mount in container.get("volumeMounts") or []]
            for mount in container.get("volumeMounts") or []:
                assert mount["name"] in volumes or mount["name"] in claims, f"{where}: {mount['name']}"
            for entry in container.get("env") or []:
                ref = (entry.get("valueFrom") or {}).get("configMapKeyRef")
                if ref:
                    data = generated_name(docs, "ConfigMap", ref["name"]).get("data", {})
                    assert ref["key"] in data, f"{where}: {ref['name']} has no {ref['key']}"
            for name, value in container_settings(docs, container).items():
                if name.endswith("_FILE") and value:
                    assert any(value.startswith(mount.rstrip("/") + "/") for mount in mounts), \
                        f"{where}: {name}={value} is on no volume"
    for ingress in objects(docs, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                service = path["backend"]["service"]
                assert service["name"] == "gateway"
                assert find(docs, "Service", service["name"])


def test_secrets_to_create_are_the_ones_the_readme_lists(rendered):
    """Secrets the manifests use but do not generate are created by the
    operator, following README.md "Secrets to create"."""
    readme = (KUSTOMIZE_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Secrets to create", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"kubectl [^\n]*create secret \w+ (authgw-[a-z-]+)", section))
    for overlay, docs in rendered.items():
        used = set()
        for workload in workloads(docs):
            for volume in pod_spec(workload).get("volumes") or []:
                if "secret" in volume:
                    used.add(volume["secret"]["secretName"])
            for container in containers(workload):
                for entry in container.get("env") or []:
                    ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        used.add(ref["name"])
        for ingress in objects(docs, "Ingress"):
            used |= {tls["secretName"] for tls in ingress["spec"].get("tls") or []}
        generated = {doc["metadata"]["name"] for doc in objects(docs, "Secret")}
        to_create = {name for name in used if name not in generated}
        assert to_create <= listed, f"{overlay}: README does not say how to create {sorted(to_create - listed)}"
    assert NOT_WORKLOADS["db-init"][1] in listed


# --- parity with docker-compose.yml ----------------------------------------------

def missing_workloads(services: dict, docs: list[dict], overlay: str) -> list[str]:
    """Compose services without their workload in ``docs``."""
    missing = []
    for service in services:
        if service in NOT_WORKLOADS:
            continue
        if service not in WORKLOADS:
            missing.append(f"{service}: not mapped to a workload (tests/deploy/test_kubernetes.py WORKLOADS)")
            continue
        if overlay != "dev" and service in DEV_ONLY_SERVICES:
            continue
        kind, name, container = WORKLOADS[service]
        workload = find(docs, kind, name)
        if workload is None or container not in {c["name"] for c in containers(workload, init=False)}:
            missing.append(f"{service}: no {kind} {name} with a container {container}")
    return missing


def missing_settings(services: dict, docs: list[dict], overlay: str) -> list[str]:
    """Settings compose passes to a service that its workload's container lacks."""
    missing = []
    for service, definition in services.items():
        if service in NOT_WORKLOADS or (overlay != "dev" and service in DEV_ONLY_SERVICES):
            continue
        kind, name, container_name = WORKLOADS[service]
        workload = find(docs, kind, name)
        if workload is None:
            continue  # missing_workloads reports it
        container = next(c for c in containers(workload, init=False) if c["name"] == container_name)
        have = container_settings(docs, container)
        exempt = DEV_ONLY_SETTINGS.get(service, set()) if overlay != "dev" else set()
        for setting in sorted(set(definition.get("environment") or {}) - set(have) - exempt):
            missing.append(f"{service}: {setting}")
    return missing


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_compose_service_has_a_workload(rendered, compose_services, overlay):
    assert not missing_workloads(compose_services, rendered[overlay], overlay)
    assert set(compose_services) <= set(WORKLOADS) | set(NOT_WORKLOADS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_compose_setting_is_in_the_matching_workload(rendered, compose_services, overlay):
    missing = missing_settings(compose_services, rendered[overlay], overlay)
    assert not missing, f"set by docker-compose.yml, missing in overlays/{overlay}: {missing}"


def test_parity_fails_when_compose_gains_a_setting_or_a_service(rendered, compose_services):
    """The parity check can fail: a setting or a service added to compose
    alone is reported."""
    import copy

    changed = copy.deepcopy(compose_services)
    changed["backend"]["environment"]["BACKEND_NEW_SETTING"] = "1"
    changed["notes"]["environment"]["NOTES_NEW_SETTING"] = "1"
    for overlay in OVERLAYS:
        assert missing_settings(changed, rendered[overlay], overlay) == \
            ["backend: BACKEND_NEW_SETTING", "notes: NOTES_NEW_SETTING"]
    changed["metrics"] = {"image": "prom/prometheus:v3", "environment": {}}
    assert missing_workloads(changed, rendered["dev"], "dev") == \
        ["metrics: not mapped to a workload (tests/deploy/test_kubernetes.py WORKLOADS)"]


def test_parity_sees_settings_from_env_file(tmp_path, rendered):
    """A setting put into .env (the backend's env_file) reaches the compose
    model the parity check reads."""
    env_file = (REPO / ".env.example").read_text(encoding="utf-8") + "\nBACKEND_ONLY_IN_ENV=1\n"
    services = compose_config(tmp_path, "--profile", "dev", env_file=env_file)["services"]
    assert "backend: BACKEND_ONLY_IN_ENV" in missing_settings(services, rendered["dev"], "dev")


def _service_ports(docs: list[dict]) -> set[tuple[str, int]]:
    return {(service["metadata"]["name"], port["port"]) for service in objects(docs, "Service")
            for port in service["spec"]["ports"]}


def _addresses(value: str) -> list[tuple[str, int]]:
    """host:port pairs in a setting (URLs, upstream lists), first label of the host."""
    pairs = []
    for host, port in re.findall(r"(?:^|[/@,\s])([a-z][a-z0-9-]*)(?:\.[^\s:/,]*)?:(\d+)", value):
        pairs.append((host, int(port)))
    return pairs


def compose_workload_settings(docs: list[dict], compose_services: dict):
    """Yield (service, its compose definition, the settings of its container in ``docs``) for every
    compose service that is a workload (WORKLOADS)."""
    for service, definition in compose_services.items():
        if service in NOT_WORKLOADS:
            continue
        kind, name, container_name = WORKLOADS[service]
        container = next(c for c in containers(find(docs, kind, name), init=False) if c["name"] == container_name)
        yield service, definition, container_settings(docs, container)


def test_addresses_compose_uses_are_services_of_the_dev_overlay(rendered, compose_services):
    """backend:8000, notes:8200, db:3306, ... : every host:port a compose
    service is given is a Service with that port in the dev overlay, and the
    matching workload is given the same Service."""
    docs = rendered["dev"]
    ports = _service_ports(docs)
    for service, definition, have in compose_workload_settings(docs, compose_services):
        for setting, value in (definition.get("environment") or {}).items():
            compose_pairs = [pair for pair in _addresses(value or "") if pair[0] in compose_services]
            for pair in compose_pairs:
                assert pair in ports, f"{service} {setting}: no Service {pair[0]} with port {pair[1]}"
            if compose_pairs and have.get(setting) is not None:
                kube_pairs = [pair for pair in _addresses(have[setting]) if pair[0] in compose_services]
                assert kube_pairs == compose_pairs, f"{service} {setting}: {have[setting]!r} vs {value!r}"
    gateway = next(c for c in containers(find(docs, "Deployment", "gateway")) if c["name"] == "gateway")
    env = container_settings(docs, gateway)
    assert ("notes", 8200) in ports and env["NOTES_HOST"].startswith("notes.") and env["NOTES_PORT"] == "8200"


#: Values the dev overlay sets differently from compose on purpose (README.md
#: "Settings"); every other setting compose gives a value must have the same
#: value there (addresses: test_addresses_compose_uses_are_services_of_the_dev_overlay).
DIFFERENT_VALUES = {
    ("backend", "GUNICORN_WORKERS"): "per pod; replicas scale",
    ("purge", "GUNICORN_WORKERS"): "the backend's settings",
    ("backend", "DATABASE_PASSWORD_FILE"): "the Secret authgw-database, mounted",
    ("purge", "DATABASE_PASSWORD_FILE"): "the Secret authgw-database, mounted",
    ("notes", "NOTES_DATABASE_PASSWORD_FILE"): "the Secret authgw-database, mounted",
    ("db", "MARIADB_PASSWORD_FILE"): "the Secret authgw-database, mounted",
    ("gateway", "GATEWAY_WORKER_PROCESSES"): "`auto` counts the node's cores, not the pod's CPU limit",
    ("gateway", "GATEWAY_RESOLVER"): "the pod's nameserver (auto), not Docker's 127.0.0.11",
    ("gateway", "NOTES_HOST"): "the Service's full name: nginx's resolver has no search list",
}


def test_settings_have_compose_values_in_the_dev_overlay(rendered, compose_services):
    docs = rendered["dev"]
    differ = []
    for service, definition, have in compose_workload_settings(docs, compose_services):
        for setting, value in (definition.get("environment") or {}).items():
            if (service, setting) in DIFFERENT_VALUES or _addresses(value or "") or have.get(setting) is None:
                continue
            if have[setting] != (value or ""):
                differ.append(f"{service} {setting}: compose {value!r}, dev overlay {have[setting]!r}")
    assert not differ, differ
    for (service, setting) in DIFFERENT_VALUES:
        assert setting in (compose_services[service].get("environment") or {}), f"stale entry {service} {setting}"


def test_both_overlays_check_tokens_like_the_backend_mints_them(rendered):
    for overlay, docs in rendered.items():
        common = generated_name(docs, "ConfigMap", next(
            source["configMapRef"]["name"] for source in containers(find(docs, "Deployment", "gateway"))[0]["envFrom"]
            if source["configMapRef"]["name"].startswith("authgw-common")))
        for name in ("gateway", "notes"):
            container = containers(find(docs, "Deployment", name))[0]
            refs = {entry["name"]: entry["valueFrom"]["configMapKeyRef"]["key"] for entry in container["env"]
                    if "configMapKeyRef" in (entry.get("valueFrom") or {})}
            issuer = refs["JWT_ISSUER" if name == "gateway" else "AUTHGW_ISSUER"]
            assert issuer == "PUBLIC_URL", f"{overlay}/{name}: the backend's JWT_ISSUER defaults to PUBLIC_URL"
        assert common["data"]["PUBLIC_URL"].startswith("https://" if overlay == "production" else "http://localhost")


def test_database_is_the_mariadb_of_compose_and_migrations_run_first(rendered):
    backend = find(rendered["production"], "Deployment", "backend")
    init = pod_spec(backend)["initContainers"]
    assert [c["name"] for c in init] == ["migrate"]
    assert "flask db upgrade" in " ".join(init[0]["command"])
    assert "flask wait-for-db" in " ".join(init[0]["command"])
    assert init[0]["image"] == containers(backend, init=False)[0]["image"]
    purge = find(rendered["production"], "CronJob", "purge")
    assert containers(purge)[0]["command"] == ["flask", "purge"]
    assert purge["spec"]["concurrencyPolicy"] == "Forbid"


def test_readme_covers_what_the_issue_asks(rendered):
    readme = (KUSTOMIZE_DIR / "README.md").read_text(encoding="utf-8")
    for heading in ("## Prerequisites", "## Secrets to create", "## Apply", "## Scaling", "## Several replicas",
                    "## What was not run here"):
        assert heading in readme, heading
    assert "kubectl apply -k deploy/kubernetes/overlays/production" in readme
    assert "kubectl apply -k deploy/kubernetes/overlays/dev" in readme
    for path in re.findall(r"\]\((?!https?://)([^)#]+)", readme):
        assert (KUSTOMIZE_DIR / path).resolve().exists(), f"README.md links to a missing {path}"


# --- the names set are names some code reads ------------------------------------

#: Set in the manifests for Kubernetes itself ($(VAR) expansion), not read by a program.
MANIFEST_ONLY = {"POD_NAMESPACE", "CLUSTER_DOMAIN"}
#: Read by the images of others (the MariaDB image's entrypoint) or by our
#: script sourced there (mariadb-initdb).
IMAGE_SETTINGS = re.compile(r"^(MARIADB_[A-Z_]+|NOTES_MYSQL_DATABASE)$")
#: Set by compose and the manifests, waiting for the code that reads them,
#: with what is expected to read them. An entry that the code reads already
#: fails the test below, so the list only shrinks.
AWAITING = {
    "NOTES_DATABASE_PASSWORD_FILE": "services/notes/notes/config.py (the password db-init generates, as the "
                                    "backend's DATABASE_PASSWORD_FILE)",
}


def _names_read_by_the_services() -> set[str]:
    """Settings the notes service and the kit read (their own settings
    modules: pydantic aliases and os.environ reads)."""
    names: set[str] = set()
    for path in [*REPO.glob("services/notes/**/*.py"), *REPO.glob("kit/src/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"alias=\"([A-Z][A-Z0-9_]*)\"", text))
        names |= set(re.findall(r"environ(?:\.get)?[\[(]\s*[\"']([A-Z][A-Z0-9_]*)[\"']", text))
        names |= set(re.findall(r"[\"'](AUTHGW_[A-Z0-9_]+)[\"']", text))
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_the_manifests_set_is_read_by_some_code(rendered, overlay):
    """A misspelt setting (RATELIMIT_STORAGE_URL) would be set and ignored."""
    from test_env_vars import SYSTEM_VARIABLES, variables_documented, variables_read_by_code

    known = set(variables_read_by_code()) | set(variables_documented()) | _names_read_by_the_services()
    known |= MANIFEST_ONLY | SYSTEM_VARIABLES
    docs = rendered[overlay]
    unknown = set()
    for workload in workloads(docs):
        for container in containers(workload):
            for name in container_settings(docs, container):
                if name not in known and not IMAGE_SETTINGS.match(name):
                    unknown.add(f"{workload['metadata']['name']}: {name}")
    waiting = {entry for entry in unknown if entry.split(": ", 1)[1] in AWAITING}
    assert unknown == waiting, f"set in overlays/{overlay} but read by no code: {sorted(unknown - waiting)}"
    read_now = set(AWAITING) & known
    assert not read_now, f"now read by the code: remove {sorted(read_now)} from AWAITING"
