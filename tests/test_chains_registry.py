"""The registry file: schema_version 1, atomic writes, the 50-chain cap, recovery from a leftover temp file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lib.chains.registry import (
    MAX_CHAINS,
    ChainRecord,
    ProjectLock,
    Registry,
    RegistryError,
    SessionRecord,
    is_chain_id,
    new_chain_id,
)


def _chain(i: int, status: str = "done", project: str = "/p") -> ChainRecord:
    return ChainRecord(id=f"20200101-0000{i:02d}-abcd", project_dir=project, mission=f"m{i}", status=status,
                       created_at=f"2020-01-01T00:00:{i:02d}+00:00")


def test_a_chain_round_trips_with_its_sessions(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    chain = _chain(1, "running")
    chain.sessions.append(SessionRecord(id="RT-261122-01", index=1, cost_usd=0.25, turns=4))
    registry.save(chain)
    raw = json.loads((tmp_path / "registry.json").read_text())
    assert raw["schema_version"] == 1 and raw["generation"] == 1
    loaded = registry.get(chain.id)
    assert loaded is not None
    assert loaded.sessions[0].cost_usd == 0.25
    assert loaded.totals["cost_usd"] == 0.25 and loaded.totals["sessions"] == 1
    assert list(tmp_path.glob("*.tmp")) == [] and list(tmp_path.glob(".*.tmp")) == []


def test_unknown_fields_from_a_newer_runner_are_ignored(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    data = {"schema_version": 1, "generation": 3, "chains": [
        {**_chain(1).to_dict(), "future_field": 1, "sessions": [{"id": "RT-261122-01", "index": 1, "new": 2}]}]}
    (tmp_path / "registry.json").write_text(json.dumps(data))
    [chain] = registry.chains()
    assert chain.sessions[0].id == "RT-261122-01"


def test_more_than_fifty_chains_move_the_oldest_finished_ones_to_the_archive(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    with registry.transaction() as data:
        data.put(_chain(0, "running"))  # the oldest, but running: never archived
        for i in range(1, MAX_CHAINS + 2):  # 52 in all
            data.put(_chain(i))
    kept = registry.load().chains
    assert len(kept) == MAX_CHAINS
    archived = registry.load_archive().chains
    assert [c.id for c in archived] == [_chain(i).id for i in (1, 2)]
    assert _chain(0).id in [c.id for c in kept]
    assert len(registry.chains(archived=True)) == MAX_CHAINS + 2
    assert registry.get(_chain(1).id) is not None


def test_a_newer_complete_temp_file_left_by_a_crash_wins_and_is_cleared(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    registry.save(_chain(1))
    newer = json.loads((tmp_path / "registry.json").read_text())
    newer["generation"] += 1
    newer["chains"].append(_chain(2).to_dict())
    (tmp_path / ".registry.json.k3j4.tmp").write_text(json.dumps(newer))
    older = {**newer, "generation": 0, "chains": []}
    (tmp_path / ".registry.json.old1.tmp").write_text(json.dumps(older))
    (tmp_path / ".registry.json.torn.tmp").write_text('{"schema_version": 1, "chai')
    assert [c.id for c in registry.chains()] == [_chain(1).id, _chain(2).id]
    registry.recover()
    assert list(tmp_path.glob(".registry.json.*.tmp")) == []
    assert [c.id for c in registry.chains()] == [_chain(1).id, _chain(2).id]


def test_a_torn_main_file_is_recovered_from_a_complete_temp(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    registry.save(_chain(1))
    good = (tmp_path / "registry.json").read_text()
    (tmp_path / "registry.json.tmp").write_text(good)
    (tmp_path / "registry.json").write_text(good[: len(good) // 2])
    assert [c.id for c in registry.chains()] == [_chain(1).id]


def test_a_corrupt_registry_with_nothing_to_recover_is_a_clear_error_and_is_not_overwritten(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    (tmp_path / "registry.json").write_text("{not json")
    with pytest.raises(RegistryError, match=r"registry\.json: not valid JSON"):
        registry.load()
    with pytest.raises(RegistryError):
        registry.save(_chain(1))
    assert (tmp_path / "registry.json").read_text() == "{not json"


def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "registry.json").write_text(json.dumps({"schema_version": 2, "chains": []}))
    with pytest.raises(RegistryError, match="schema_version 2"):
        Registry(tmp_path).load()


def test_list_filters_by_project_at_read_time(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    registry.save(_chain(1, project=str(a)))
    registry.save(_chain(2, project=str(b)))
    assert [c.id for c in registry.chains(a)] == [_chain(1).id]
    assert len(registry.chains()) == 2


def test_the_project_lock_admits_one_holder(tmp_path: Path) -> None:
    first = ProjectLock(tmp_path, tmp_path / "proj")
    second = ProjectLock(tmp_path, tmp_path / "proj" / ".." / "proj")
    other = ProjectLock(tmp_path, tmp_path / "other")
    assert first.acquire()
    try:
        assert not second.acquire()
        assert second.is_held_elsewhere()
        assert other.acquire()
        other.release()
    finally:
        first.release()
    assert second.acquire()
    second.release()


def test_chain_ids_are_safe_names() -> None:
    assert is_chain_id(new_chain_id())
    assert not is_chain_id("../../etc/passwd")
    assert not is_chain_id("20200101-000000-ABCD")
