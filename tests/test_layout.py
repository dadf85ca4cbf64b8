"""The layout the commands, the service and the benchmarks read is where dvc.yaml writes."""

import yaml

from hybridrag import layout

from .test_dvc_deps import ROOT

WRITTEN_BY = {layout.INGESTED: "ingest", layout.CHUNKS: "chunk", layout.INDEX: "build_db",
              layout.RERANKER: "train_reranker", layout.BASE_MODEL: "prepare_base",
              layout.DPO_MODEL: "train_dpo", layout.SFT_DATA: "chatml",
              layout.CHAT_EXPORT: "export_chat", layout.GATE: "choose_gate"}


def outputs(stage: dict) -> set[str]:
    return {o if isinstance(o, str) else next(iter(o)) for o in stage.get("outs", [])}


def test_every_layout_path_is_the_output_of_its_stage():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for path, stage in WRITTEN_BY.items():
        assert path in outputs(stages[stage]), f"{stage} does not write {path}"
    lora = stages["train_lora"]["do"]
    assert f"{layout.SFT_MODELS}/${{item}}" in outputs(lora)
    assert (ROOT / layout.PARAMS).is_file()


def test_chat_model_names_map_to_the_pipeline_folders(tmp_path):
    assert str(layout.chat_model_folder("base")) == layout.BASE_MODEL
    assert str(layout.chat_model_folder("lora")) == f"{layout.SFT_MODELS}/lora"
    assert str(layout.chat_model_folder("dpo")) == layout.DPO_MODEL
    assert layout.chat_model_folder(str(tmp_path / "mine")) == tmp_path / "mine"
