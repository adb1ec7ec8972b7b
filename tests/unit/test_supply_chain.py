"""What the build fetches is pinned by hash in the repo: the native stack's tools (installed
with --require-hashes), Kafka's jars (checked after Maven fetches them), uv for the image, and
every image by digest."""

import re
from pathlib import Path

import pytest
import stack_kafka
import stack_s3

from tests.support.stack import ROOT

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}\b")


def requirements(path: Path) -> dict[str, list[str]]:
    """Each pinned `name==version` with the hashes given for it."""
    pinned: dict[str, list[str]] = {}
    current = ""
    for line in path.read_text().splitlines():
        if re.match(r"^[A-Za-z0-9_.-]+==\S+", line):
            current = line.split()[0]
            pinned[current] = []
        found = re.search(r"--hash=sha256:([0-9a-f]{64})", line)
        if found:
            pinned[current].append(found[1])
    return pinned


@pytest.mark.parametrize("name", ["tools-requirements.txt", "uv-requirements.txt"])
def test_every_tool_requirement_is_pinned_with_its_hashes(name: str) -> None:
    pinned = requirements(ROOT / "deploy" / name)
    assert pinned
    for requirement, hashes in pinned.items():
        assert hashes, f"{requirement} has no hash"


def test_the_tools_requirements_pin_what_the_stack_names() -> None:
    pinned = requirements(stack_s3.TOOLS_REQUIREMENTS)
    assert stack_s3.SEAWEEDFS_PIN in pinned
    assert stack_s3.BOTO3_PIN in pinned
    source = (ROOT / "deploy" / "stack_s3.py").read_text()
    assert source.count('"--require-hashes"') == 2  # the uv and the pip path alike


def test_every_kafka_jar_is_pinned_by_sha256() -> None:
    lines = [
        line
        for line in stack_kafka.KAFKA_JAR_HASHES.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    names = [line.split(maxsplit=1)[1] for line in lines]
    assert all(re.fullmatch(r"[0-9a-f]{64}  \S+\.jar", line) for line in lines)
    assert len(names) == len(set(names))
    version = stack_kafka.KAFKA_VERSION
    assert {f"kafka_2.13-{version}.jar", f"kafka-clients-{version}.jar"} <= set(names)


def test_the_jar_check_names_each_difference(tmp_path: Path) -> None:
    (tmp_path / "a-1.jar").write_bytes(b"a")
    (tmp_path / "b-1.jar").write_bytes(b"b")
    sha_a = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
    manifest = f"# comment\n{sha_a}  a-1.jar\n{'0' * 64}  c-1.jar\n"
    assert stack_kafka.jar_problems(tmp_path, manifest) == [
        "b-1.jar: not pinned",
        "c-1.jar: missing",
    ]
    (tmp_path / "a-1.jar").write_bytes(b"A")
    assert "a-1.jar: SHA-256 differs" in stack_kafka.jar_problems(tmp_path, manifest)


def test_every_base_image_is_pinned_by_digest() -> None:
    froms = re.findall(r"^FROM (\S+)", (ROOT / "deploy" / "Dockerfile").read_text(), re.MULTILINE)
    assert froms
    for image in froms:
        assert DIGEST.search(image), image


def test_the_image_installs_uv_by_hash() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    installs = re.findall(r"^RUN pip install .*$", dockerfile, re.MULTILINE)
    assert installs
    assert all("--require-hashes -r" in line for line in installs)


def test_make_installs_tools_with_pip_by_hash_only() -> None:
    makefile = (ROOT / "Makefile").read_text()
    installs = re.findall(r"pip install [^\n;|&]*", makefile)
    assert installs
    for install in installs:
        assert "--require-hashes -r deploy/" in install, install
