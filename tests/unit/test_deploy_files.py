"""The deploy files (deploy/) agree with the settings model and the command line.

Every GOLDSPLIT_* variable they pass is a field of `main.settings.Settings` (GOLDSPLIT_<FIELD>),
every process runs a real `goldsplit` command and gets the settings it must have in production, the
API and the Kafka workers (relay, consume) are ready on /health and alive on /live, one relay runs,
and compose hard-codes no secret. Docker itself is not needed: the files are parsed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from main.cli import parser
from main.settings import DEV_SECRET, Settings, SettingsError

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS = {f"GOLDSPLIT_{name.upper()}" for name in Settings.model_fields}
# Without these a production process is wrong: the default database is a SQLite file inside one
# container, and `serve` refuses to listen beyond loopback with the development secret.
REQUIRED = {"GOLDSPLIT_DATABASE_URL", "GOLDSPLIT_SECRET"}
# The Kafka workers also need the broker (the default is the container's own loopback); every
# background process needs a health port for its probes (the default 0 serves none).
WORKERS = {"relay", "consume"}
PROBED = WORKERS | {"project"}
REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def required(command: str) -> set[str]:
    return (REQUIRED | ({"GOLDSPLIT_HEALTH_PORT"} if command in PROBED else set())
            | ({"GOLDSPLIT_KAFKA_BOOTSTRAP"} if command in WORKERS else set()))


def subcommand(args: list[str]) -> str:
    """The `goldsplit` subcommand `args` run; fails unless the CLI accepts them."""
    try:
        return parser().parse_args(args).command
    except SystemExit:
        pytest.fail(f"goldsplit {shlex.join(args)} is not a command the CLI has")


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def goldsplit_services() -> dict[str, dict]:
    """The compose services run from the goldsplit image (merge keys resolved by the loader)."""
    return {name: svc for name, svc in compose()["services"].items()
            if svc.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}


def k8s_documents() -> list[dict]:
    return [doc for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_kind(kind: str) -> list[dict]:
    return [doc for doc in k8s_documents() if doc["kind"] == kind]


def k8s_containers() -> dict[str, dict]:
    return {c["name"]: c for d in k8s_kind("Deployment") for c in d["spec"]["template"]["spec"]["containers"]}


def k8s_process(command: str) -> tuple[dict, dict]:
    """The Deployment and the container that run `goldsplit <command>`."""
    [found] = [(d, c) for d in k8s_kind("Deployment") for c in d["spec"]["template"]["spec"]["containers"]
               if c["args"][0] == command]
    return found


def k8s_env(container: dict) -> dict[str, str]:
    """What a container gets: its ConfigMaps and Secrets (envFrom), then its own env."""
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in k8s_kind("ConfigMap")}
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) | d.get("data", {}) for d in k8s_kind("Secret")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= maps[source["configMapRef"]["name"]]
        if "secretRef" in source:
            env |= secrets[source["secretRef"]["name"]]
    env |= {e["name"]: e.get("value", "<from valueFrom>") for e in container.get("env", [])}
    return env


def env_example() -> dict[str, str]:
    """Each `NAME=value` line of env.example, commented out (`# NAME=value`) or not."""
    lines = (DEPLOY / "env.example").read_text().splitlines()
    found = [re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip()) for line in lines]
    names = [m.group(1) for m in found if m]
    assert len(names) == len(set(names)), "a variable appears twice in env.example"
    return {m.group(1): m.group(2).strip() for m in found if m}


def dockerfile_env() -> set[str]:
    text = (DEPLOY / "Dockerfile").read_text()
    return set(re.findall(r"^ENV\s+(GOLDSPLIT_[A-Z0-9_]+)=", text, flags=re.M))


def passed_variables() -> dict[str, set[str]]:
    """Every GOLDSPLIT_* name each deploy file passes or mentions as a ${...} reference."""
    compose_names = set(re.findall(r"\bGOLDSPLIT_[A-Z0-9_]+\b", (DEPLOY / "compose.yaml").read_text()))
    k8s_names = {name for c in k8s_containers().values() for name in k8s_env(c)}
    k8s_names |= {name for d in k8s_kind("ConfigMap") + k8s_kind("Secret")
                  for name in d.get("data", {}) | d.get("stringData", {})}
    return {"compose.yaml": compose_names, "k8s": k8s_names, "env.example": set(env_example()),
            "Dockerfile": dockerfile_env()}


def test_the_settings_names_are_what_the_model_reads() -> None:
    environ = {name: "7" for name in ("GOLDSPLIT_PORT", "GOLDSPLIT_TOKEN_TTL_SECONDS")}
    assert Settings.from_env(environ).port == 7 and Settings.from_env(environ).token_ttl_seconds == 7
    assert REQUIRED <= SETTINGS


@pytest.mark.parametrize("where", ["compose.yaml", "k8s", "env.example", "Dockerfile"])
def test_every_goldsplit_variable_the_deploy_files_pass_is_a_setting(where: str) -> None:
    names = {n for n in passed_variables()[where] if n.startswith("GOLDSPLIT_")}
    assert names, f"{where} passes no GOLDSPLIT_* variable"
    assert names - SETTINGS == set()


def test_env_example_lists_every_setting_with_its_default() -> None:
    example = env_example()
    assert SETTINGS <= set(example)
    documented = {name: value for name, value in example.items() if name in SETTINGS and value}
    assert set(example) - SETTINGS == {"POSTGRES_PASSWORD"}  # compose's database, documented
    assert Settings.from_env(documented) == Settings(), "a default in env.example is not the model's"
    assert example["GOLDSPLIT_SECRET"] == "", "env.example must not carry a secret"
    text = (DEPLOY / "env.example").read_text()
    for name in SETTINGS:  # each one has a comment just above it
        above = text.split(f"{name}=")[0].rstrip().splitlines()[-1]
        assert above.startswith("#"), name


def test_compose_runs_every_process_from_the_image_with_a_real_command() -> None:
    services = goldsplit_services()
    commands = {name: svc["command"] for name, svc in services.items()}
    assert commands == {"api": ["serve", "--host", "0.0.0.0"], "projections": ["project"],
                        "relay": ["relay"], "consume": ["consume"]}
    for command in commands.values():
        assert subcommand(command) == command[0]
    assert services["api"]["environment"]["GOLDSPLIT_IN_PROCESS_PROJECTIONS"] == "false"
    assert "GOLDSPLIT_IN_PROCESS_PROJECTIONS" not in services["projections"]["environment"]


def test_compose_passes_every_required_setting_to_every_process() -> None:
    services = compose()["services"]
    for name, svc in goldsplit_services().items():
        assert required(svc["command"][0]) <= set(svc["environment"]), name
        assert urlparse(svc["environment"]["GOLDSPLIT_DATABASE_URL"]).scheme == "postgresql", name
        # the broker is compose's kafka service, on the listener it advertises
        bootstrap = svc["environment"]["GOLDSPLIT_KAFKA_BOOTSTRAP"]
        assert bootstrap in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"], name


def test_compose_infrastructure_has_healthchecks_and_the_processes_wait_for_them() -> None:
    services = compose()["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    kafka = services["kafka"]
    assert kafka["image"].startswith(("apache/kafka", "bitnami/kafka"))
    assert "controller" in str(kafka["environment"].get("KAFKA_PROCESS_ROLES", "")), "KRaft"
    assert kafka["healthcheck"]["test"]
    for name, svc in goldsplit_services().items():
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy", name
        if svc["command"][0] in WORKERS:
            assert svc["depends_on"]["kafka"]["condition"] == "service_healthy", name
        assert svc["healthcheck"]["test"], name
    assert "/health" in " ".join(services["api"]["healthcheck"]["test"])


def test_compose_workers_are_healthy_by_health_on_the_port_they_serve_it_on() -> None:
    workers = {svc["command"][0]: svc for svc in goldsplit_services().values()
               if svc["command"][0] in PROBED}
    assert set(workers) == PROBED
    for command, svc in workers.items():
        port = int(svc["environment"]["GOLDSPLIT_HEALTH_PORT"])
        assert port > 0, command
        test = svc["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], command  # the image has python, not curl
        compile(test[3], "healthcheck", "exec")
        assert f"127.0.0.1:{port}/health'" in test[3], command
    # `--scale consume=N` needs replicas that publish no host port; the relay is not scaled
    assert "ports" not in workers["consume"]
    assert workers["relay"].get("deploy", {}).get("replicas", 1) == 1


def test_compose_hard_codes_no_secret() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    assert DEV_SECRET not in text
    secrets = {"GOLDSPLIT_SECRET", "POSTGRES_PASSWORD"}
    for name, svc in compose()["services"].items():
        env = svc.get("environment", {})
        for key in secrets & set(env):
            assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", env[key]), f"{name}.{key} is not a required ${{...}}"
        if "GOLDSPLIT_DATABASE_URL" in env:  # user:password@ (urlparse stops at the ${...:?...})
            userinfo = re.fullmatch(r"postgresql://[^:/@]+:(.*)@[^@]+", env["GOLDSPLIT_DATABASE_URL"])
            assert userinfo and re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", userinfo.group(1)), name
    for key, value in re.findall(r"^\s*([A-Z_]*(?:SECRET|PASSWORD)[A-Z_]*):\s*(.+)$", text, flags=re.M):
        assert value.strip().startswith("${"), key


def test_compose_reads_each_uncommented_line_of_env_example() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    referenced = {m.group(1) for m in REFERENCE.finditer(text)}
    active = {m.group(1) for line in (DEPLOY / "env.example").read_text().splitlines()
              if (m := re.fullmatch(r"([A-Z][A-Z0-9_]*)=.*", line.strip()))}
    assert active == referenced


def test_k8s_has_what_a_cluster_needs() -> None:
    kinds = {d["kind"] for d in k8s_documents()}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service"} <= kinds
    namespace = k8s_kind("Namespace")[0]["metadata"]["name"]
    assert {d["metadata"].get("namespace", namespace) for d in k8s_documents()} == {namespace}


def test_k8s_passes_every_required_setting_to_every_process() -> None:
    containers = k8s_containers()
    assert {c["args"][0] for c in containers.values()} == {"serve", "project", "relay", "consume"}
    for name, container in containers.items():
        assert subcommand(container["args"]) == container["args"][0]
        assert required(container["args"][0]) <= set(k8s_env(container)), name
    config = {n for d in k8s_kind("ConfigMap") for n in d.get("data", {})}
    assert REQUIRED & config == set(), "required secrets belong in a Secret, not a ConfigMap"


def test_k8s_secret_placeholders_fail_closed() -> None:
    values = {k: v for d in k8s_kind("Secret") for k, v in d.get("stringData", {}).items()}
    assert values["GOLDSPLIT_SECRET"] == DEV_SECRET  # serve refuses it beyond loopback
    assert "CHANGE-ME" in values["GOLDSPLIT_DATABASE_URL"]


def test_k8s_api_is_ready_on_health_alive_on_live_and_runs_without_in_process_projections() -> None:
    [api] = [c for c in k8s_containers().values() if c["args"][0] == "serve"]
    [deployment] = [d for d in k8s_kind("Deployment")
                    if api in d["spec"]["template"]["spec"]["containers"]]
    assert deployment["spec"]["replicas"] == 2
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    # ready while the store answers; alive while the process answers (no restarts in an outage)
    for probe, path in (("readinessProbe", "/health"), ("livenessProbe", "/live")):
        assert api[probe]["httpGet"]["path"] == path, probe
        assert ports[api[probe]["httpGet"]["port"]] == int(k8s_env(api)["GOLDSPLIT_PORT"]), probe
    assert k8s_env(api)["GOLDSPLIT_IN_PROCESS_PROJECTIONS"] == "false"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    [service] = k8s_kind("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports) | set(ports.values())


@pytest.mark.parametrize("command", sorted(PROBED))
def test_k8s_workers_are_ready_on_health_and_alive_on_live_on_the_health_port(command: str) -> None:
    _, worker = k8s_process(command)
    port = int(k8s_env(worker)["GOLDSPLIT_HEALTH_PORT"])
    assert port > 0
    ports = {p["name"]: p["containerPort"] for p in worker["ports"]}
    # ready while Kafka and the database answer; alive while the process answers
    for probe, path in (("readinessProbe", "/health"), ("livenessProbe", "/live")):
        get = worker[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports.get(get["port"], get["port"]) == port, probe
    assert worker["resources"]["requests"] and worker["resources"]["limits"]["memory"]


def test_k8s_runs_one_relay_and_at_most_a_partition_per_consumer() -> None:
    relay, _ = k8s_process("relay")
    # a second relay only publishes duplicates, during a rollout too
    assert relay["spec"]["replicas"] == 1 and relay["spec"]["strategy"]["type"] == "Recreate"
    consume, container = k8s_process("consume")
    partitions = Settings.from_env(k8s_env(container)).kafka_topic_partitions
    assert 1 <= consume["spec"]["replicas"] <= partitions, "more consumers than partitions sit idle"


def test_k8s_pods_run_as_the_images_non_root_user() -> None:
    user = re.search(r"^USER\s+(\d+)", (DEPLOY / "Dockerfile").read_text(), flags=re.M)
    assert user, "the Dockerfile runs as a numeric non-root user"
    for deployment in k8s_kind("Deployment"):
        context = deployment["spec"]["template"]["spec"]["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] == int(user.group(1))


def test_the_image_runs_goldsplit_serve_by_default() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\s*$", text, flags=re.M)
    entrypoint = yaml.safe_load(re.search(r"^ENTRYPOINT\s+(.+)$", text, flags=re.M).group(1))
    command = yaml.safe_load(re.search(r"^CMD\s+(.+)$", text, flags=re.M).group(1))
    assert entrypoint[-1] == "goldsplit"
    assert command == ["serve", "--host", "0.0.0.0"]
    parser().parse_args(command)
    # the process table in deploy/README.md names only commands that exist, or says "not yet"
    for line in (DEPLOY / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) == 4 and cells[1].startswith("`") and "not yet" not in line:
            parser().parse_args(shlex.split(cells[1].split("`")[1]))


def test_the_readme_settings_table_names_every_setting() -> None:
    text = (DEPLOY.parent / "README.md").read_text()
    table = text.split("### Settings", 1)[1].split("\n## ", 1)[0]
    assert SETTINGS - set(re.findall(r"`(GOLDSPLIT_[A-Z0-9_]+)`", table)) == set()


def interpolate(value: str, given: dict[str, str]) -> str:
    """compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, for the variables given."""
    def one(match: re.Match) -> str:
        name, rest = match.group(1), match.group(0)[len(match.group(1)) + 2:-1]
        if name in given:
            return given[name]
        assert rest.startswith(":-"), f"{name} has no default and was not given"
        return rest[2:]
    return REFERENCE.sub(one, str(value))


def test_the_compose_environment_interpolated_is_valid_settings() -> None:
    given = {"GOLDSPLIT_SECRET": "s" * 48, "POSTGRES_PASSWORD": "0123abcd"}
    for name, svc in goldsplit_services().items():
        env = {key: interpolate(value, given) for key, value in svc["environment"].items()}
        settings = Settings.from_env(env)
        assert settings.secret == given["GOLDSPLIT_SECRET"], name
        url = urlparse(settings.database_url)
        assert (url.hostname, url.password) == ("postgres", "0123abcd"), name
        assert settings.in_process_projections is (name != "api"), name
        if svc["command"][0] in PROBED:
            assert settings.health_port > 0, name
        if svc["command"][0] in WORKERS:
            assert settings.kafka_bootstrap == "kafka:9092", name


def test_k8s_runs_the_image_of_this_version() -> None:
    version = re.search(r'^version = "([^"]+)"', (DEPLOY.parent / "pyproject.toml").read_text(), re.M)
    for deployment in k8s_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"] == f"goldsplit:{version.group(1)}", deployment["metadata"]["name"]


@pytest.mark.parametrize(("variable", "value"), [("GOLDSPLIT_PORT", "80a"), ("GOLDSPLIT_ACCESS_LOG", "flase"),
                                                 ("GOLDSPLIT_READ_WAIT_SECONDS", "soon")])
def test_a_setting_that_does_not_parse_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: .*'{value}'"):
        Settings.from_env({variable: value})


def test_the_process_environment_is_read_as_the_mapping_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLDSPLIT_PORT", "7")
    monkeypatch.setenv("GOLDSPLIT_ACCESS_LOG", "off")
    assert (Settings.from_env().port, Settings.from_env().access_log) == (7, False)
    monkeypatch.setenv("GOLDSPLIT_PORT", "80a")
    with pytest.raises(SettingsError, match="^GOLDSPLIT_PORT: "):
        Settings.from_env()
