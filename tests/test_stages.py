"""The stage scripts as DVC runs them: explicit paths, params sections, clear errors."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_stage(name, *args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=600)


def write_params(folder, **sections):
    """The repository's params.yaml with these sections' keys changed."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, values in sections.items():
        params[name].update(values)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_bad_jsonl_row_stops_ingest_naming_file_and_line(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": "ok"}) + "\n"
                    + json.dumps({"id": "b", "text": "x", "year": "1999"}) + "\n")
    write_params(tmp_path, ingest={"source": "jsonl", "path": str(docs), "on_error": "raise",
                                     "questions": None})
    result = run_stage("ingest", "--out", "out", "--metrics", "m.json", cwd=tmp_path)
    assert result.returncode == 2
    assert f"error: {docs}:2: field 'year' must be an integer, got str '1999'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_skip_policy_counts_and_reports_bad_rows(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": "ok", "year": 2000}) + "\n{oops\n"
                    + json.dumps({"id": "c"}) + "\n")
    write_params(tmp_path, ingest={"source": "jsonl", "path": str(docs), "on_error": "skip",
                                     "questions": None})
    result = run_stage("ingest", "--out", "out", "--metrics", "m.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "skipped 2 bad input row(s)" in result.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["documents"] == 1 and metrics["skipped_rows"] == 2
    assert metrics["skipped_by_kind"] == {"field 'text'": 1, "invalid JSON": 1}


def test_unknown_param_is_named(tmp_path):
    write_params(tmp_path, chunk={"sise": 10})
    result = run_stage("chunk", "--corpus", "c.jsonl", "--out", "o.jsonl", "--metrics", "m.json",
                       cwd=tmp_path)
    assert result.returncode == 2
    assert "chunk.sise: unknown key" in result.stderr and "Traceback" not in result.stderr


def test_stage_help_describes_the_stage():
    result = subprocess.run([sys.executable, str(ROOT / "stages" / "build_db.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "Stage build_db" in result.stdout and "--embeddings" in result.stdout
