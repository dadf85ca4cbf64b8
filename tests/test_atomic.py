import pytest

from hybridrag.atomic import atomic_directory, atomic_write_text, recover_directory


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        from hybridrag.atomic import atomic_open
        with atomic_open(target) as handle:
            handle.write("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failed_directory_build_keeps_the_previous_one(tmp_path):
    target = tmp_path / "index"
    with atomic_directory(target) as staging:
        (staging / "a").write_text("v1")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as staging:
            (staging / "a").write_text("v2-partial")
            raise RuntimeError("crash")
    assert (target / "a").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
    with atomic_directory(target) as staging:
        (staging / "a").write_text("v2")
    assert (target / "a").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_crash_between_the_two_renames_is_recovered(tmp_path):
    target = tmp_path / "index"
    backup = tmp_path / ".index.previous"
    backup.mkdir()
    (backup / "a").write_text("v1")  # the old index was moved aside, the new one never landed
    recover_directory(target)
    assert (target / "a").read_text() == "v1" and not backup.exists()


def test_killed_writer_staging_folders_are_cleared(tmp_path):
    stale = tmp_path / ".index.abc.staging"
    stale.mkdir()
    with atomic_directory(tmp_path / "index") as staging:
        (staging / "a").write_text("x")
    assert not stale.exists()
