"""`install.py --ci github`: a valid workflow whose every command exists and runs in the installed repository."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from lib.adopt import ci
from support.fakenotion import FakeNotion
from support.notionstore import meta, session_note, workspace, write_config
from support.paths import REPO_ROOT
from test_install import BAD, GOOD, run_install, theirs  # noqa: F401  (the fixture)

CHECK_JSONSCHEMA = Path(sys.prefix) / "bin" / "check-jsonschema"


def _workflow(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((root / ci.GITHUB_PATH).read_text(encoding="utf-8"))
    return data


def _run_steps(workflow: dict[str, Any]) -> dict[str, list[str]]:
    return {name: [step["run"] for step in job["steps"] if "run" in step] for name, job in workflow["jobs"].items()}


def test_the_workflow_is_valid_for_github_actions(theirs: Path) -> None:  # noqa: F811
    result = run_install(theirs, "--ci", "github")
    assert result.returncode == 0, result.stderr
    # check-jsonschema ships GitHub's workflow schema (SchemaStore's), so this runs offline.
    checked = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows",
                              str(theirs / ci.GITHUB_PATH)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    workflow = _workflow(theirs)
    triggers = workflow.get(True) or workflow["on"]  # type: ignore[call-overload]  # PyYAML (YAML 1.1) reads `on` as true
    assert set(triggers) == {"pull_request", "push", "workflow_dispatch"}
    jobs = workflow["jobs"]
    assert jobs["validate"]["if"] == "github.event_name == 'pull_request'"
    assert "github.ref_name == github.event.repository.default_branch" in jobs["notion-sync"]["if"]
    assert jobs["notion-sync"]["env"] == {"NOTION_TOKEN": "${{ secrets.NOTION_TOKEN }}"}
    assert ci.GITHUB_PATH in result.stdout and "NOTION_TOKEN" in result.stdout


def test_every_command_of_the_workflow_exists_and_runs_in_the_installed_repository(theirs: Path) -> None:  # noqa: F811
    run_install(theirs, "--ci", "github")
    (theirs / "docs/learnings/good-one.md").write_text(GOOD.format(slug="good-one"), encoding="utf-8")
    runs = _run_steps(_workflow(theirs))
    assert runs["validate"] == [ci.SETUP, ci.VALIDATE]
    assert runs["notion-sync"][:2] == [ci.SETUP, ci.SYNC]
    with FakeNotion(rate=None) as fake:
        ws = workspace(fake)
        write_config(theirs, ws)
        note = session_note(theirs, "RT-260511-01")
        for name, commands in runs.items():
            for command in commands:
                argv = shlex.split(command)
                if argv[0] == "echo":
                    continue
                for arg in argv:
                    if arg.startswith((".baton/", "./.baton/")):
                        assert (theirs / arg).is_file(), f"{name}: {arg} is not in the installed repository"
                # The job's environment: the secret as NOTION_TOKEN, the fake Notion in place of api.notion.com.
                ran = subprocess.run(argv, cwd=theirs, capture_output=True, text=True, timeout=120,
                                     env={**os.environ, **ws.env()})
                assert ran.returncode == 0, f"{name}: {command}: {ran.stdout}{ran.stderr}"
        assert ws.pages(meta(note)["external_id"]) == [meta(note)["notion_page_id"]]


def test_the_strict_validation_of_the_workflow_fails_a_bad_note(theirs: Path) -> None:  # noqa: F811
    run_install(theirs, "--ci", "github")
    (theirs / "docs/learnings/bad-one.md").write_text(BAD.format(slug="bad-one"), encoding="utf-8")
    ran = subprocess.run(shlex.split(ci.VALIDATE), cwd=theirs, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 1 and "docs/learnings/bad-one.md" in ran.stdout


def test_upgrade_keeps_the_workflow_and_uninstall_removes_it(theirs: Path) -> None:  # noqa: F811
    run_install(theirs, "--ci", "github")
    upgraded = run_install(theirs, "--upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (theirs / ci.GITHUB_PATH).is_file()
    manifest = json.loads((theirs / ".baton/manifest.json").read_text(encoding="utf-8"))
    assert manifest["ci"] == ["github"] and ci.GITHUB_PATH in manifest["files"]
    removed = run_install(theirs, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not (theirs / ".github").exists()


def test_an_edited_workflow_is_kept_on_upgrade(theirs: Path) -> None:  # noqa: F811
    run_install(theirs, "--ci", "github")
    path = theirs / ci.GITHUB_PATH
    path.write_text(path.read_text(encoding="utf-8") + "# ours now\n", encoding="utf-8")
    result = run_install(theirs, "--upgrade")
    assert result.returncode == 0, result.stderr
    assert path.read_text(encoding="utf-8").endswith("# ours now\n")
    assert f"{ci.GITHUB_PATH}: kept (modified locally)" in result.stdout


def test_the_documented_gitlab_job_runs_the_same_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("# .gitlab-ci.yml")
    block = readme[start: readme.index("```", start)]
    gitlab = yaml.safe_load(block)
    scripts = [line for job in gitlab.values() if isinstance(job, dict) for line in job.get("script", [])]
    assert ci.SETUP in scripts and ci.VALIDATE in scripts and ci.SYNC in scripts
