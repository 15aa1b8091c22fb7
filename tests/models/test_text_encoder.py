"""Text encoders: prompt cleaning, the T5 wrapper on a tiny offline T5, null captions, the offline encoder."""
import hashlib
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from opensora.models.text_encoder import OfflineTextEncoder, T5Encoder, append_scores, clean_caption, preprocess_prompts
from opensora.registry import MODELS, build_module
from opensora.utils.ckpt import WeightsNotFoundError

WORDS = ["a", "beautiful", "waterfall", "in", "the", "forest", "cat", "dog", "aesthetic", "score", "4k", "hd"]


# ---- prompt preprocessing -------------------------------------------------------------------------
def test_open_sora_inference_preprocessing_example():
    out = preprocess_prompts(["A Beautiful waterfall, 4K (HD) in the forest."], aes=6.5)
    assert out == ["a beautiful waterfall, 4k hd in the forest. aesthetic score: 6.5."]


@pytest.mark.parametrize("raw,clean", [
    ("Visit https://example.com/page now", "visit now"),
    ("<b>Bold</b> text &amp; more", "bold text more"),
    ("@user123 said “hello”", 'said "hello"'),
    ("this-is-my-cute-cat", "this is my cute cat"),
    ("photo.jpg of a dog #12", "of a dog"),
    ("a 1920x1080 shot", "a shot"),
])
def test_clean_caption_examples(raw, clean):
    assert clean_caption(clean_caption(raw)) == clean


def test_scores_are_appended_once_and_cleaning_is_optional():
    assert append_scores("x aesthetic score: 5.0.", aes=6.5) == "x aesthetic score: 5.0."
    assert append_scores("x", aes=6.5, flow=4, camera_motion="pan right") == \
        "x aesthetic score: 6.5. motion score: 4.0. camera motion: pan right."
    assert preprocess_prompts(["Raw (Caption)"], clean=False) == ["Raw (Caption)"]


# ---- T5 wrapper on a tiny T5 built offline ------------------------------------------------------------
def _tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("▁" + w, -1.0) for w in WORDS]
    pieces += [(c, -10.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789.,:"] + [("▁", -5.0)]
    tok = Tokenizer(models.Unigram(pieces, unk_id=2))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"), \
        len(pieces)


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    from transformers import T5Config, T5EncoderModel

    path = tmp_path_factory.mktemp("t5tiny")
    tokenizer, vocab = _tiny_tokenizer()
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=vocab, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2,
                   feed_forward_proj="gated-gelu", relative_attention_num_buckets=8)
    T5EncoderModel(cfg).save_pretrained(path)
    return path


def test_t5_wrapper_encodes_like_the_raw_model(t5_dir):
    from transformers import T5EncoderModel

    enc = build_module(dict(type="t5", from_pretrained=str(t5_dir), model_max_length=16), MODELS)
    assert (enc.output_dim, enc.model_max_length) == (32, 16)
    out = enc.encode(["a cat in the forest", "dog"])
    assert out["y"].shape == (2, 1, 16, 32) and out["y"].dtype == torch.float32
    assert out["mask"].dtype == torch.long and out["mask"].sum(1).tolist() == [6, 2]  # words + EOS
    ids = enc.tokenizer(["a cat in the forest", "dog"], max_length=16, padding="max_length",
                        return_tensors="pt")
    assert ids["input_ids"][1, :3].tolist() == [3 + WORDS.index("dog"), 1, 0]  # word, EOS, pad
    raw = T5EncoderModel.from_pretrained(t5_dir).eval()
    with torch.no_grad():
        ref = raw(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"]).last_hidden_state
    torch.testing.assert_close(out["y"][:, 0], ref)


def test_t5_truncates_and_preprocesses(t5_dir):
    enc = T5Encoder(from_pretrained=str(t5_dir), model_max_length=4, clean_prompts=True, aes=6.5)
    assert enc.preprocess(["A Cat (HD)"]) == ["a cat hd aesthetic score: 6.5."]
    out = enc.encode(["a cat in the forest"])
    assert out["mask"].tolist() == [[1, 1, 1, 1]]
    assert enc.tokenizer(["a cat in the forest"], max_length=4, truncation=True)["input_ids"][0][-1] == 1


def test_t5_loads_a_spiece_model_like_deepfloyd(tmp_path):
    spm_pb2 = pytest.importorskip("sentencepiece.sentencepiece_model_pb2")
    from transformers import AutoTokenizer

    proto = spm_pb2.ModelProto()
    for piece, score, kind in [("<pad>", 0, 3), ("</s>", 0, 3), ("<unk>", 0, 2)] + \
            [("▁" + w, -1, 1) for w in WORDS] + [(c, -10, 1) for c in "abcdefghijklmnopqrstuvwxyz"]:
        proto.pieces.add(piece=piece, score=score, type=kind)
    proto.trainer_spec.model_type, proto.trainer_spec.unk_id = 1, 2
    (tmp_path / "spiece.model").write_bytes(proto.SerializeToString())
    (tmp_path / "tokenizer_config.json").write_text('{"tokenizer_class": "T5Tokenizer", "extra_ids": 0}')
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert tok(["a cat"], max_length=5, padding="max_length")["input_ids"] == [[3, 9, 1, 0, 0]]


def test_t5_missing_weights_name_the_source_and_the_fix(tmp_path):
    with pytest.raises(WeightsNotFoundError, match=r"'DeepFloyd/t5-v1_1-xxl'(.|\n)*--local-dir"):
        T5Encoder(from_pretrained="DeepFloyd/t5-v1_1-xxl")  # HF_HUB_OFFLINE=1 in conftest, empty cache
    with pytest.raises(WeightsNotFoundError, match="no such directory"):
        T5Encoder(from_pretrained=str(tmp_path / "absent"))


# ---- null caption -------------------------------------------------------------------------------------
def test_null_comes_from_the_models_y_embedding():
    enc = OfflineTextEncoder(dim=8, model_max_length=6)
    table = torch.randn(6, 8)
    model = SimpleNamespace(y_embedder=SimpleNamespace(y_embedding=table))
    null = enc.null(3, model)
    assert null.shape == (3, 1, 6, 8) and all(torch.equal(null[i, 0], table) for i in range(3))
    assert not hasattr(enc, "y_embedder")
    assert torch.equal(enc.null(1, SimpleNamespace(module=model))[0, 0], table)  # DDP-style wrapper
    with pytest.raises(ValueError, match=r"\(5, 8\)"):
        enc.null(1, SimpleNamespace(y_embedder=SimpleNamespace(y_embedding=torch.zeros(5, 8))))
    with pytest.raises(AttributeError, match="y_embedder"):
        enc.null(1, torch.nn.Linear(2, 2))


# ---- offline encoder ----------------------------------------------------------------------------------
_PROMPTS = ["a red car drives", "A RED car drives.", "drives a red car", "a blue car drives", ""]
_SNIPPET = ("import hashlib; from opensora.models.text_encoder.offline import OfflineTextEncoder as E; "
            "y = E().encode({prompts!r})['y']; print(hashlib.sha256(y.numpy().tobytes()).hexdigest())")


def _digest(y):
    return hashlib.sha256(y.numpy().tobytes()).hexdigest()


def test_offline_encoder_interface_and_distinct_captions():
    enc = build_module(dict(type="offline_text"), MODELS)
    out = enc.encode(_PROMPTS)
    y, mask = out["y"][:, 0], out["mask"]
    assert out["y"].shape == (5, 1, 32, 64) and mask.dtype == torch.long
    assert mask.sum(1).tolist() == [5, 5, 5, 5, 1]  # words + EOS
    assert torch.equal(y[0], y[1])  # case and punctuation do not matter
    assert not torch.equal(y[0], y[2]) and not torch.equal(y[0], y[3])  # word order and words do
    assert torch.all(y[0, 5:] == 0)  # padding is zero
    long = enc.encode(["word " * 40])["mask"]
    assert long.sum() == 32 and enc.tokenize(["word " * 40])[0][0, -1] == 1  # EOS kept on truncation


def test_offline_encoder_is_deterministic_across_processes():
    here = _digest(OfflineTextEncoder().encode(_PROMPTS)["y"])
    assert here == _digest(OfflineTextEncoder().encode(_PROMPTS)["y"])
    env = dict(os.environ, PYTHONHASHSEED="12345", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _SNIPPET.format(prompts=_PROMPTS)], capture_output=True,
                         text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == here
