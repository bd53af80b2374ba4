"""scripts/install.py: baton adopted by another repository, upgraded there and removed again,
with everything of theirs (settings hooks, pre-commit hook, .gitignore, scripts/, .venv) kept."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from lib.adopt import claude_settings, install, layout, payload, roster, uninstall
from lib.adopt.report import Options
from lib.core import pyenv
from lib.core.errors import BatonError
from support.git import git
from support.paths import REPO_ROOT, run_script

VENV = Path(sys.prefix)  # the environment running the tests has baton's dependencies

THEIR_SETTINGS = """{
    "permissions": {"allow": ["Bash(make test:*)"]},
    "hooks": {
        "PostToolUse": [
            {"matcher": "*", "hooks": [{"type": "command", "command": "their-audit --tool", "timeout": 3}]}
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "their-notify"}]}]
    },
    "model": "claude-sonnet-4-6"
}"""
THEIR_HOOK = "#!/bin/sh\necho 'their pre-commit ran' >&2\nexit 0\n"
THEIR_GITIGNORE = "node_modules/\n*.log"  # no final newline: its exact bytes must come back
GOOD = "---\nkind: learning\nexternal_id: {slug}\nsummary: s\ntags: []\n---\nbody\n"
BAD = "---\nkind: learning\nexternal_id: {slug}\nsummary: 42\ntags: []\n---\nbody\n"

Snapshot = dict[str, tuple[Any, ...]]


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> Snapshot:
    """Every path under root (the working tree and .git/hooks) with its kind, mode and bytes or link target."""
    found: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        if rel_dir == ".git":
            dirnames[:] = [d for d in dirnames if d == "hooks"]
            filenames = []
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if rel == ".git" or any(rel == s or rel.startswith(s + "/") for s in skip):
                continue
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                found[rel] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
        dirnames[:] = [d for d in dirnames if not Path(dirpath, d).is_symlink()]
    return found


@pytest.fixture
def theirs(repo: Path) -> Path:
    """A repository with its own settings hooks, pre-commit hook, .gitignore, scripts/ and .venv."""
    (repo / ".claude").mkdir(exist_ok=True)
    (repo / ".claude/settings.json").write_text(THEIR_SETTINGS, encoding="utf-8")
    (repo / ".gitignore").write_text(THEIR_GITIGNORE, encoding="utf-8")
    hook = repo / ".git/hooks/pre-commit"
    hook.write_text(THEIR_HOOK, encoding="utf-8")
    hook.chmod(0o755)
    (repo / "scripts/lib").mkdir(parents=True)
    (repo / "scripts/setup.sh").write_text("#!/bin/sh\necho their setup\n", encoding="utf-8")
    (repo / "scripts/setup.sh").chmod(0o755)
    (repo / "scripts/lib/util.py").write_text("X = 1\n", encoding="utf-8")
    (repo / "scripts/py").write_text("#!/bin/sh\necho their launcher\n", encoding="utf-8")
    (repo / ".venv/bin").mkdir(parents=True)
    (repo / ".venv/pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    (repo / "README.md").write_text("# their project\n", encoding="utf-8")
    for folder in ("docs/sessions", "workstreams", "plans", "docs/adr", "docs/learnings", ".claude/state"):
        (repo / folder).rmdir()  # the `repo` fixture makes baton's folders; theirs has none of them
    (repo / "docs").rmdir()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "their project")
    return repo


def run_install(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_script("install.py", str(target), "--venv", str(VENV), *args, cwd=target)


def installed(target: Path, *, link: bool = False, dry_run: bool = False) -> dict[str, Any]:
    """Install in this process (fast); the CLI itself is run where its output matters."""
    options = Options(venv=VENV, link=link, dry_run=dry_run)
    return install.install(REPO_ROOT, target, options).as_dict()


def uninstalled(target: Path) -> dict[str, Any]:
    return uninstall.uninstall(target, Options(uninstall=True)).as_dict()


def fire(target: Path, event: str, payload: dict[str, Any]) -> None:
    """Run every command registered for `event` in the target's settings.json, as Claude Code does."""
    settings = json.loads((target / ".claude/settings.json").read_text(encoding="utf-8"))
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(target)}
    for group in settings["hooks"][event]:
        for handler in group["hooks"]:
            if "baton" not in handler["command"]:
                continue  # their hooks are not installed on this machine
            subprocess.run(["sh", "-c", handler["command"]], input=json.dumps(payload), text=True, env=env,
                           cwd=target, check=True, timeout=30)


def commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-q", "--no-gpg-sign", *args], cwd=repo, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def test_install_keeps_everything_of_theirs_byte_for_byte(theirs: Path) -> None:
    before = snapshot(theirs)
    result = run_install(theirs, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    after = snapshot(theirs)
    changed = {rel for rel in before if after.get(rel) != before[rel]}
    # Only the two shared files change, and the pre-commit hook moves aside to be chained.
    assert changed == {".claude/settings.json", ".gitignore", ".git/hooks/pre-commit"}
    assert after[".git/hooks/pre-commit.legacy"] == before[".git/hooks/pre-commit"]
    assert (theirs / ".gitignore").read_bytes().startswith(THEIR_GITIGNORE.encode())
    settings = json.loads((theirs / ".claude/settings.json").read_text(encoding="utf-8"))
    markers = [e.marker for e in claude_settings.baton_hook_entries(layout.LOCATION)]
    assert claude_settings.remove_hooks(settings, markers) == json.loads(THEIR_SETTINGS)
    # Nothing of ours landed in their scripts/ or .venv.
    assert {rel for rel in after if rel.startswith(("scripts/", ".venv/"))} == {
        rel for rel in before if rel.startswith(("scripts/", ".venv/"))}
    assert after[".baton/.venv"] == ("link", str(VENV))
    assert report["changed"] and report["skipped"] == [] and report["locally_modified"] == []


def test_installed_layout_commands_and_hooks_point_into_dot_baton(theirs: Path) -> None:
    installed(theirs)
    assert os.access(theirs / ".baton/scripts/py", os.X_OK)
    assert (theirs / ".baton/scripts/hooks/session_state.py").is_file()
    assert not (theirs / ".baton/scripts/install.py").exists()
    for folder in ("docs/sessions", "workstreams", "plans", "docs/adr", "docs/learnings"):
        assert any((theirs / folder).iterdir())
    installed_doc = (theirs / "docs/conventions/frontmatter.md").read_text(encoding="utf-8")
    assert installed_doc == payload.installed_doc((REPO_ROOT / "docs/conventions/frontmatter.md").read_text(
        encoding="utf-8"))
    assert "`.baton/scripts/vault.py fix`" in installed_doc
    commands = sorted((REPO_ROOT / ".claude/commands").glob("*.md")) if (REPO_ROOT / ".claude/commands").is_dir() else []
    for source in commands:
        text = source.read_text(encoding="utf-8")
        if payload.is_generated_wrapper(text):
            assert not (theirs / ".claude/commands" / source.name).exists()
            continue
        shipped = (theirs / ".claude/commands" / source.name).read_text(encoding="utf-8")
        assert "./scripts/py scripts/" not in shipped
        assert shipped == text.replace("./scripts/py scripts/", "./.baton/scripts/py .baton/scripts/")
    settings = json.loads((theirs / ".claude/settings.json").read_text(encoding="utf-8"))
    [ours] = [h["command"] for g in settings["hooks"]["PostToolUse"] for h in g["hooks"] if "baton" in h["command"]]
    assert ours.startswith('"$CLAUDE_PROJECT_DIR"/.baton/scripts/py -I -S "$CLAUDE_PROJECT_DIR"/.baton/scripts/hooks/')
    manifest = json.loads((theirs / ".baton/manifest.json").read_text(encoding="utf-8"))
    for rel, record in manifest["files"].items():
        assert payload.sha256((theirs / rel).read_bytes()) == record["sha256"], rel


def test_installed_telemetry_hook_counts_a_tool_call(theirs: Path) -> None:
    installed(theirs)
    payload = {"session_id": "adopt-1", "hook_event_name": "PostToolUse", "tool_name": "Bash",
               "tool_input": {"command": "ls"}, "tool_response": {"stdout": ""}, "tool_use_id": "toolu_adopt_1",
               "cwd": str(theirs)}
    fire(theirs, "PostToolUse", payload)
    state = json.loads((theirs / ".claude/state/session-adopt-1.json").read_text(encoding="utf-8"))
    assert state["tool_calls_count"] == 1
    assert state["tool_calls_breakdown"] == {"Bash": 1}
    assert not (theirs / ".claude/state/hook-errors.log").exists()
    assert "?? .claude/state" not in git(theirs, "status", "--porcelain")  # gitignored


def test_bad_note_commit_shows_our_warning_and_their_hook_still_runs(theirs: Path) -> None:
    installed(theirs)
    (theirs / "docs/learnings/oops.md").write_text(BAD.format(slug="oops"), encoding="utf-8")
    git(theirs, "add", "docs/learnings/oops.md")
    result = commit(theirs, "-m", "a bad note")
    assert result.returncode == 0, result.stdout  # warn mode lets it through
    assert "their pre-commit ran" in result.stdout
    assert "docs/learnings/oops.md:4: /summary: must be string, not integer" in result.stdout
    assert "warning only" in result.stdout


def test_install_records_a_grace_period_after_which_bad_notes_are_blocked(theirs: Path) -> None:
    import datetime as dt

    installed_on = dt.date.today() - dt.timedelta(days=30)
    install.install(REPO_ROOT, theirs, Options(venv=VENV, today=installed_on))
    baton_yaml = theirs / ".claude/baton.yaml"
    ends = (installed_on + dt.timedelta(days=14)).isoformat()
    assert f"strict_from: {ends}" in baton_yaml.read_text(encoding="utf-8")
    (theirs / "docs/learnings/oops.md").write_text(BAD.format(slug="oops"), encoding="utf-8")
    git(theirs, "add", "docs/learnings/oops.md")
    # Installed 30 days ago: the 14-day grace period is over, the hook blocks.
    blocked = commit(theirs, "-m", "a bad note")
    assert blocked.returncode != 0 and "blocking the commit" in blocked.stdout
    # Moving the date (the documented way to extend it) lets the commit through with a dated warning.
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    baton_yaml.write_text(f"strict_from: {future}\n", encoding="utf-8")
    warned = commit(theirs, "-m", "a bad note")
    assert warned.returncode == 0 and f"commits like this are blocked from {future}" in warned.stdout
    assert uninstall.uninstall(theirs, Options(uninstall=True)).as_dict()
    assert baton_yaml.exists()  # edited by the team: kept


def test_second_install_changes_nothing(theirs: Path) -> None:
    installed(theirs)
    first = snapshot(theirs)
    again = installed(theirs)
    assert snapshot(theirs) == first
    assert again["changed"] is False
    result = run_install(theirs)
    assert result.returncode == 0 and "Nothing to change." in result.stdout


def test_dry_run_writes_nothing(theirs: Path) -> None:
    before = snapshot(theirs)
    report = installed(theirs, dry_run=True)
    assert snapshot(theirs) == before
    assert report["dry_run"] and report["changed"]
    assert any(s["path"] == ".claude/settings.json" for s in report["steps"])


def test_uninstall_leaves_the_repository_as_it_was(theirs: Path) -> None:
    before = snapshot(theirs)
    installed(theirs)
    installed(theirs)  # twice: still exactly undoable
    result = run_script("install.py", str(theirs), "--uninstall", cwd=theirs)
    assert result.returncode == 0, result.stderr
    assert snapshot(theirs) == before
    assert "restored" in result.stdout


def test_uninstall_after_use_keeps_only_the_runtime_state(theirs: Path) -> None:
    before = snapshot(theirs)
    installed(theirs)
    fire(theirs, "SessionStart", {"session_id": "adopt-2", "hook_event_name": "SessionStart", "source": "startup"})
    (theirs / "docs/learnings/kept.md").write_text(GOOD.format(slug="kept"), encoding="utf-8")
    git(theirs, "add", "docs/learnings/kept.md")
    assert commit(theirs, "-m", "a good note").returncode == 0  # runs our hook: bytecode is written

    uninstalled(theirs)
    after = snapshot(theirs, skip=(".claude/state", "docs/learnings/kept.md", "docs/learnings", "docs"))
    assert after == {k: v for k, v in before.items()}
    assert (theirs / "docs/learnings/kept.md").is_file()  # the team's note stays, and its folder with it
    assert (theirs / ".claude/state/session-adopt-2.json").is_file()
    assert not (theirs / ".baton").exists()


def test_uninstall_keeps_files_changed_since_install_and_an_edited_operators_draft(theirs: Path) -> None:
    installed(theirs)
    (theirs / "docs/conventions/frontmatter.md").write_text("our own notes\n", encoding="utf-8")
    ops = theirs / ".claude/operators.yaml"
    ops.write_text(ops.read_text(encoding="utf-8").replace("Test Author", "Test Q. Author"), encoding="utf-8")
    report = uninstalled(theirs)
    assert report["locally_modified"] == ["docs/conventions/frontmatter.md"]
    assert (theirs / "docs/conventions/frontmatter.md").read_text(encoding="utf-8") == "our own notes\n"
    assert "Test Q. Author" in ops.read_text(encoding="utf-8")
    assert not (theirs / "docs/sessions").exists()


def _source_copy(tmp_path: Path) -> Path:
    """A copy of this checkout's installable parts: a 'newer baton' a test can change."""
    src = tmp_path / "baton-next"
    shutil.copytree(REPO_ROOT / "scripts", src / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO_ROOT / "pyproject.toml", src / "pyproject.toml")
    shutil.copytree(REPO_ROOT / "docs/conventions", src / "docs/conventions")
    if (REPO_ROOT / ".claude/commands").is_dir():
        shutil.copytree(REPO_ROOT / ".claude/commands", src / ".claude/commands")
    for folder in ("docs/sessions", "workstreams", "plans", "docs/adr", "docs/learnings"):
        if (REPO_ROOT / folder / "TEMPLATE.md").is_file():
            (src / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / folder / "TEMPLATE.md", src / folder / "TEMPLATE.md")
    return src


def _run_from(source: Path, target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(source / "scripts/install.py"), str(target), "--venv", str(VENV),
                           *args], cwd=target, capture_output=True, text=True, timeout=120)


def test_upgrade_updates_our_files_and_keeps_a_local_edit(theirs: Path, tmp_path: Path) -> None:
    source = _source_copy(tmp_path)
    assert _run_from(source, theirs).returncode == 0
    edited = theirs / ".baton/scripts/lib/core/paths.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "# tuned here\n", encoding="utf-8")

    # The next baton changes two files (one of them the edited one), drops one and adds one.
    (source / "scripts/lib/core/paths.py").write_text(
        (source / "scripts/lib/core/paths.py").read_text(encoding="utf-8") + "# next\n", encoding="utf-8")
    (source / "docs/conventions/frontmatter.md").write_text("# contract v2\n", encoding="utf-8")
    (source / "scripts/backfill_frontmatter.py").unlink()
    (source / "scripts/lib/newthing.py").write_text("NEW = True\n", encoding="utf-8")

    plain = _run_from(source, theirs)
    assert plain.returncode == 0 and "run with --upgrade" in plain.stdout
    assert (theirs / "docs/conventions/frontmatter.md").read_text(encoding="utf-8") != "# contract v2\n"

    result = _run_from(source, theirs, "--upgrade")
    assert result.returncode == 0, result.stderr
    assert "Modified locally, left as they are (1): .baton/scripts/lib/core/paths.py" in result.stdout
    assert edited.read_text(encoding="utf-8").endswith("# tuned here\n")
    assert (theirs / "docs/conventions/frontmatter.md").read_text(encoding="utf-8") == "# contract v2\n"
    assert not (theirs / ".baton/scripts/backfill_frontmatter.py").exists()
    assert (theirs / ".baton/scripts/lib/newthing.py").read_text(encoding="utf-8") == "NEW = True\n"

    report = json.loads(_run_from(source, theirs, "--upgrade", "--json").stdout)
    assert report["changed"] is False
    assert report["locally_modified"] == [".baton/scripts/lib/core/paths.py"]


def test_a_file_of_theirs_at_one_of_our_paths_is_skipped_and_kept(theirs: Path) -> None:
    (theirs / "docs/sessions").mkdir(parents=True)
    (theirs / "docs/sessions/TEMPLATE.md").write_text("their template\n", encoding="utf-8")
    before = snapshot(theirs)
    report = installed(theirs)
    assert report["skipped"] == ["docs/sessions/TEMPLATE.md"]
    assert (theirs / "docs/sessions/TEMPLATE.md").read_text(encoding="utf-8") == "their template\n"
    uninstalled(theirs)
    assert snapshot(theirs) == before


def test_malformed_settings_is_refused_before_anything_is_written(theirs: Path) -> None:
    (theirs / ".claude/settings.json").write_text('{"hooks": [', encoding="utf-8")
    before = snapshot(theirs)
    result = run_install(theirs)
    assert result.returncode == 1
    assert ".claude/settings.json:1:" in result.stderr and "left untouched" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(theirs) == before


def test_link_mode_symlinks_our_scripts_to_this_checkout(theirs: Path) -> None:
    before = snapshot(theirs)
    installed(theirs, link=True)
    link = theirs / ".baton/scripts/lib/telemetry/state.py"
    assert link.is_symlink() and Path(os.readlink(link)) == REPO_ROOT / "scripts/lib/telemetry/state.py"
    assert not (theirs / "docs/conventions/frontmatter.md").is_symlink()  # the team's docs are copies
    fire(theirs, "PostToolUse", {"session_id": "adopt-3", "hook_event_name": "PostToolUse", "tool_name": "Read",
                                 "tool_use_id": "toolu_link_1"})
    state = json.loads((theirs / ".claude/state/session-adopt-3.json").read_text(encoding="utf-8"))
    assert state["tool_calls_count"] == 1
    assert installed(theirs, link=True)["changed"] is False
    uninstalled(theirs)
    assert snapshot(theirs, skip=(".claude/state",)) == before


def test_upgrade_and_uninstall_need_an_install(theirs: Path) -> None:
    for flag in ("--upgrade", "--uninstall"):
        result = run_install(theirs, flag) if flag == "--upgrade" else run_script(
            "install.py", str(theirs), flag, cwd=theirs)
        assert result.returncode == 1
        assert "baton is not installed here" in result.stderr


def test_hooks_path_inside_the_working_tree_is_left_to_them(theirs: Path) -> None:
    (theirs / ".husky").mkdir()
    (theirs / ".husky/pre-commit").write_text(THEIR_HOOK, encoding="utf-8")
    git(theirs, "config", "core.hooksPath", ".husky")
    report = installed(theirs)
    [step] = [s for s in report["steps"] if s["what"] == "git-hook"]
    assert step["action"] == "skipped" and ".baton/scripts/hooks/pre-commit" in step["note"]
    assert (theirs / ".husky/pre-commit").read_text(encoding="utf-8") == THEIR_HOOK
    assert not (theirs / ".husky/pre-commit.legacy").exists()


def test_venv_that_lacks_our_dependencies_is_refused(theirs: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare-venv"
    pyenv.create(bare, [])  # a real venv, without pip or packages
    before = snapshot(theirs)
    result = run_script("install.py", str(theirs), "--venv", str(bare), cwd=theirs)
    assert result.returncode == 1
    assert "--venv:" in result.stderr and "lacks baton's dependencies: ruamel.yaml" in result.stderr
    assert snapshot(theirs) == before


def test_pyenv_create_builds_whole_and_is_current_for_the_same_requirements(tmp_path: Path) -> None:
    venv = tmp_path / "env"
    pyenv.create(venv, [])
    assert pyenv.is_current(venv, pyenv.requirements_text([]))
    assert not pyenv.is_current(venv, pyenv.requirements_text(["rich"]))
    assert pyenv.version_of(str(pyenv.python_of(venv))) == sys.version_info[:2]
    assert not list(tmp_path.glob("env.staging-*"))


def test_setup_script_installs_the_git_hook_in_a_fresh_clone(theirs: Path, tmp_path: Path) -> None:
    installed(theirs)
    git(theirs, "add", "-A")
    git(theirs, "commit", "-qm", "adopt baton")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(theirs), str(clone))
    (clone / ".baton/.venv").symlink_to(VENV)  # a teammate's environment (setup.sh never pips into a link)
    result = subprocess.run([str(clone / ".baton/scripts/setup.sh")], cwd=clone, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "baton is ready" in result.stdout
    hook = clone / ".git/hooks/pre-commit"
    assert ".baton/scripts/hooks/pre-commit" in hook.read_text(encoding="utf-8")


def test_launcher_names_the_setup_script_beside_it_when_the_venv_is_missing(theirs: Path) -> None:
    install.install(REPO_ROOT, theirs, Options(no_venv=True))
    result = subprocess.run([".baton/scripts/py", "-c", "pass"], cwd=theirs, capture_output=True, text=True)
    assert result.returncode == 127
    assert "run .baton/scripts/setup.sh first" in result.stderr


def test_operators_draft_groups_emails_skips_bots_and_keeps_initials_unique() -> None:
    text = roster.operators_draft([
        ("Ada Lovelace", "ada@example.com", 9),
        ("Alan Lee", "alan@example.com", 5),
        ("Ada Lovelace", "ada@work.example", 3),
        ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", 40),
        ("Zoë Ångström", "zoe@example.com", 1),
    ])
    assert text is not None and text.startswith("# DRAFT")
    data = yaml.safe_load(text)
    assert data["version"] == 1
    ops = data["operators"]
    assert [o["slug"] for o in ops] == ["ada-lovelace", "alan-lee", "zoe-angstrom"]
    assert ops[0]["emails"] == ["ada@example.com", "ada@work.example"]
    initials = [o["initials"] for o in ops]
    assert initials[0] == "AL" and len(set(initials)) == 3
    assert all(2 <= len(i) <= 4 and i.isalpha() and i.isupper() for i in initials)
    schema = REPO_ROOT / "scripts/schemas/operators.schema.json"
    if schema.is_file():
        import jsonschema

        jsonschema.validate(data, json.loads(schema.read_text(encoding="utf-8")))
    assert roster.operators_draft([("renovate[bot]", "bot@renovateapp.com", 1)]) is None


def test_manifest_with_a_path_outside_the_repository_is_refused(theirs: Path) -> None:
    installed(theirs)
    path = theirs / ".baton/manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["files"]["../outside.txt"] = {"sha256": "0" * 64}
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BatonError, match="not a plain path inside the repository"):
        uninstall.uninstall(theirs, Options(uninstall=True))


def test_drafted_operators_work_with_session_py_in_the_installed_layout(theirs: Path) -> None:
    installed(theirs)
    launcher = [str(theirs / ".baton/scripts/py"), str(theirs / ".baton/scripts/session.py")]
    who = subprocess.run([*launcher, "whoami"], cwd=theirs, capture_output=True, text=True, timeout=60)
    assert who.returncode == 0, who.stderr
    assert who.stdout.split() == ["test-author", "TA"]  # the draft holds the repository's git author
    made = subprocess.run([*launcher, "wrappers"], cwd=theirs, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    wrapper = (theirs / ".claude/commands/handoff-ta.md").read_text(encoding="utf-8")
    assert "OPERATOR=test-author ./.baton/scripts/py .baton/scripts/session.py whoami" in wrapper
    assert "./scripts/py" not in wrapper.replace("./.baton/scripts/py", "")
    check = subprocess.run([*launcher, "wrappers", "--check"], cwd=theirs, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_uninstall_dry_run_changes_nothing_and_lists_what_would_go(theirs: Path) -> None:
    installed(theirs)
    before = snapshot(theirs)
    result = run_script("install.py", str(theirs), "--uninstall", "--dry-run", "--json", cwd=theirs)
    assert result.returncode == 0, result.stderr
    assert snapshot(theirs) == before
    report = json.loads(result.stdout)
    assert {"what": "settings", "path": ".claude/settings.json", "action": "restored",
            "note": "byte for byte as it was before baton"} in report["steps"]
    assert any(s["what"] == "git-hook" and s["action"] == "removed" for s in report["steps"])


def test_a_folder_inside_a_repository_is_refused(theirs: Path) -> None:
    result = run_install(theirs / "scripts")
    assert result.returncode == 1
    assert "install into its top level" in result.stderr


def test_reinstall_from_another_commit_with_the_same_files_leaves_the_manifest_alone(
        theirs: Path, tmp_path: Path) -> None:
    source = _source_copy(tmp_path)
    git(source, "init", "-q")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "one")
    assert _run_from(source, theirs).returncode == 0
    manifest = (theirs / ".baton/manifest.json").read_bytes()
    git(source, "commit", "-q", "--allow-empty", "-m", "two")
    result = _run_from(source, theirs, "--upgrade")
    assert result.returncode == 0 and "Nothing to change." in result.stdout
    assert (theirs / ".baton/manifest.json").read_bytes() == manifest


def test_the_installed_hook_installer_registers_the_installed_paths(theirs: Path) -> None:
    installed(theirs)
    path = theirs / ".claude/settings.json"
    before = path.read_bytes()
    again = subprocess.run([str(theirs / ".baton/scripts/py"), str(theirs / ".baton/scripts/install_hooks.py"),
                            "--root", str(theirs)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "already up to date" in again.stdout
    assert path.read_bytes() == before


@pytest.mark.parametrize("location", [layout.LOCATION, claude_settings.PLUGIN], ids=["installed", "plugin"])
def test_every_registered_hook_follows_its_location(location: claude_settings.HookLocation) -> None:
    # A hook added to baton_hook_entries without passing the location on would point an adopting
    # repository (or the plugin) at scripts/ of the project, which is not ours there.
    for entry in claude_settings.baton_hook_entries(location):
        assert entry.marker.startswith(f"{location.scripts}/hooks/"), entry
        assert f"{location.base}/{location.scripts}/hooks/" in entry.command, entry
        assert '"$CLAUDE_PROJECT_DIR"/scripts/' not in entry.command, entry
