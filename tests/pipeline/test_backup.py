"""The restore drill on the tiny province: a backup of the lake and the business database, a second
one that copies nothing already kept, the originals deleted, the restore proven equal (versions, row
counts, every file's checksum, the audit chain); a damaged backup fails the drill, named."""

import shutil

import pytest
from deltalake import DeltaTable

from jiuzhu import access, audit, auth, backup, integrity
from jiuzhu.business import db

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_lake")]


@pytest.fixture
def platform(tiny_lake, tmp_path):
    root, _ = tiny_lake
    lake_root = tmp_path / "home" / "lake"
    shutil.copytree(root / "lake", lake_root, ignore=shutil.ignore_patterns("serving"))
    url = f"sqlite:///{tmp_path / 'home' / 'business.sqlite'}"
    db.upgrade(url)
    with db.session_factory(db.make_engine(url))() as s:
        auth.create_user(s, "hedui.bk", "核对员", access.VERIFICATION_OFFICER, "510104000000", "Abcdef12!",
                         must_change_password=False)
        audit.anchor_head(s, tmp_path / "home" / "audit_head.json")
    return lake_root, tmp_path / "home", url


def test_backup_wipe_restore_gives_the_same_lake_and_a_verifying_audit_chain(platform, tmp_path):
    lake_root, home, url = platform
    rows = {str(t.relative_to(lake_root)): DeltaTable(str(t)).to_pyarrow_dataset().count_rows()
            for t in integrity.tables(lake_root)}
    first = backup.backup(lake_root, home, tmp_path / "offsite", business_url=url)
    second = backup.backup(lake_root, home, f"file://{tmp_path / 'offsite'}", business_url=url)  # a URI location
    assert first.new_objects == first.files > 0 and second.new_objects == 0  # incremental
    shutil.rmtree(home)  # the original is gone
    drill = backup.restore(f"file://{tmp_path / 'offsite'}", tmp_path / "restored")  # the newest, through a URI
    assert drill.ok, drill.problems
    restored = tmp_path / "restored" / "lake"
    assert {str(t.relative_to(restored)): DeltaTable(str(t)).to_pyarrow_dataset().count_rows()
            for t in integrity.tables(restored)} == rows
    report = drill.report.read_text("utf-8")
    assert "结论:**通过**" in report and "审计日志哈希链:通过" in report
    with pytest.raises(backup.BackupError, match="不是空目录"):
        backup.restore(tmp_path / "offsite", tmp_path / "restored")


def test_a_damaged_backup_fails_the_drill_and_old_backups_are_pruned(platform, tmp_path):
    lake_root, home, url = platform
    offsite = tmp_path / "offsite"
    made = [backup.backup(lake_root, home, offsite, business_url=url) for _ in range(3)]
    victim = next((offsite / "objects").rglob("*"))
    while victim.is_dir():
        victim = next(victim.iterdir())
    victim.write_bytes(b"forged")
    drill = backup.restore(offsite, tmp_path / "restored", stamp=made[-1].path.rsplit("/", 1)[-1])
    assert not drill.ok and any("校验值不符" in p or "无法读取" in p for p in drill.problems)
    assert "不通过" in drill.report.read_text("utf-8")
    dropped, _ = backup.prune(offsite, keep=1)
    assert dropped == 2 and backup.backups(offsite) == [made[-1].path.rsplit("/", 1)[-1]]
