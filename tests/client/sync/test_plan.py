"""What ``dockyard sync`` reads: SRC/DST arguments and sync files, and the example in deploy/."""

from __future__ import annotations

import pytest

from bench.common import REPO_ROOT
from client.errors import DockyardError
from client.sync import SyncJob, job_from_args, load_plan
from ocispec.reference import Reference


def test_arguments_name_one_tag_patterns_or_all():
    assert job_from_args("alpine", "r:5000/mirror/alpine") == SyncJob(
        Reference.parse("docker.io/library/alpine:latest"),
        Reference.parse("r:5000/mirror/alpine:latest"))
    assert job_from_args("r:5000/a:1", "r:5000/b:2").destination.tag == "2"
    assert job_from_args("r/a", "s/b", ["1.*", "2"]).patterns == ("1.*", "2")
    assert job_from_args("r/a", "s/b", all_tags=True).patterns == ()


def test_patterns_select_tags():
    job = job_from_args("r/a", "s/b", ["1.*", "latest"])
    assert job.select(["2.0", "1.1", "latest", "1.0", "1"]) == ["1.0", "1.1", "latest"]
    assert job_from_args("r/a", "s/b", all_tags=True).select(["b", "a"]) == ["a", "b"]


def test_example_sync_file_in_deploy_reads():
    plan = load_plan(REPO_ROOT / "deploy" / "dockyard-sync.yml")
    assert plan.concurrency == 4
    first = plan.jobs[0]
    assert str(first.source) == "docker.io/library/alpine"
    assert str(first.destination) == "registry.example.com:5000/dockerhub/library/alpine"
    assert plan.jobs[-1].patterns == ()


@pytest.mark.parametrize("text, message", [
    ("- a", "expected a mapping"),
    ("repositories: []", "repositories: expected a list"),
    ("repositories: [{source: a}]", r"repositories\[0\]: no destination"),
    ("destination: r\nrepositories: [{source: 'a:1'}]", "name a repository; list its tags"),
    ("destination: r\nrepositories: [{source: a, tag: [x]}]", "unknown key: tag"),
    ("destination: r\nrepositories: [{source: a, tags: x}]", "tags: expected a list"),
    ("destination: r\nconcurrency: 0\nrepositories: [{source: a}]", "concurrency"),
    ("destination: r\nrepositories: [{source: 'A B'}]", r"repositories\[0\].source"),
    ("destinaton: r\nrepositories: [{source: a}]", "unknown key: destinaton"),
    ("repositories: [{source: a, destination: 'r/b:1'}]", "without a tag"),
])
def test_sync_file_mistakes_name_the_entry(tmp_path, text, message):
    path = tmp_path / "sync.yml"
    path.write_text(text)
    with pytest.raises(DockyardError, match=message):
        load_plan(path)
