"""A tiny Whisper for tests, made locally: nothing downloads.

The model is built from transformers' Whisper classes (d_model 64, 2 + 2 layers, multilingual
vocabulary layout of 51,865 ids), given a tokenizer made with the `tokenizers` library, and
converted with ctranslate2's TransformersConverter into the folder faster-whisper and whisperx load.

Its weights are random except the decoder's, which are set so that greedy or beam decoding says
SENTENCE and then <|endoftext|> whatever the audio: every decoder layer writes nothing to the
residual stream, position embeddings are zero, so the last hidden state is the normalised
embedding of the previous token, and the (untied) output projection maps each token of a chain
<|notimestamps|> -> "Hello" -> " from" -> ... -> "." -> <|endoftext|> to the next one. A random
model's transcript would be arbitrary text, or nothing; this one makes the end-to-end test's
expected `ref_text_used` exact while every step still runs through whisperx's real code.

    python -m tests.worker.tiny_whisper DIR     # writes DIR/hf (transformers) and DIR/ct2
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch
from ctranslate2.converters import TransformersConverter
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, WhisperConfig, WhisperForConditionalGeneration

SENTENCE = "Hello from the tiny Whisper."
WORDS = ("Hello", "Ġfrom", "Ġthe", "Ġtiny", "ĠWhisper", ".")  # byte-level pieces of SENTENCE
D_MODEL = 64
VOCAB_SIZE = 51_865  # multilingual layout (whisper tiny .. large-v2)
EOT = 50_257  # <|endoftext|>; id 50256 is the empty-string token of the multilingual vocabulary
# Whisper's 99 language codes of the 51,865-id layout, in its token order.
_CODES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th "
    "ur hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr "
    "pa si km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt "
    "haw ln ha ba jw su"
)
LANGUAGES = tuple(_CODES.split())
SPECIALS = (
    ["<|endoftext|>", "<|startoftranscript|>"]
    + [f"<|{code}|>" for code in LANGUAGES]
    + ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>"]
    + ["<|notimestamps|>"]
)  # ids 50257 .. 50363; the 1,501 timestamp ids after them are added by the converter


def byte_alphabet() -> list[str]:
    """GPT-2's byte-to-character table (what the ByteLevel pre-tokenizer emits), in byte order."""
    visible = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    visible += range(ord("®"), ord("ÿ") + 1)
    chars, extra = {}, 0
    for b in range(256):
        if b in visible:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def make_tokenizer() -> Tokenizer:
    """Byte-level BPE with no merges: any text encodes (byte by byte), WORDS decode to SENTENCE."""
    alphabet = byte_alphabet()
    pieces = alphabet + [w for w in WORDS if w not in alphabet]  # "." is a byte already
    pieces += [f"unused{i}" for i in range(EOT - 1 - len(pieces))]
    vocab = {piece: i for i, piece in enumerate(pieces)}
    vocab[""] = EOT - 1  # 50256: ctranslate2 reads a multilingual model from this layout
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    assert tok.token_to_id("<|endoftext|>") == EOT and tok.get_vocab_size() == EOT + len(SPECIALS)
    return tok


def make_model(tok: Tokenizer, seed: int = 0) -> WhisperForConditionalGeneration:
    """Random Whisper whose decoder is wired to say SENTENCE (see the module docstring)."""
    torch.manual_seed(seed)
    blank = tok.token_to_id("Ġ")
    config = WhisperConfig(
        vocab_size=VOCAB_SIZE,
        num_mel_bins=80,
        d_model=D_MODEL,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_source_positions=1500,  # 30 s windows, fixed by the feature extractor
        max_target_positions=448,
        pad_token_id=EOT,
        bos_token_id=EOT,
        eos_token_id=EOT,
        decoder_start_token_id=tok.token_to_id("<|startoftranscript|>"),
        tie_word_embeddings=False,
    )
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config.suppress_tokens = []
    model.generation_config.begin_suppress_tokens = [blank, EOT]
    chain = [tok.token_to_id("<|notimestamps|>"), *(tok.token_to_id(w) for w in WORDS), EOT]
    with torch.no_grad():
        decoder = model.model.decoder
        for layer in decoder.layers:
            for linear in (layer.self_attn.out_proj, layer.encoder_attn.out_proj, layer.fc2):
                linear.weight.zero_()
                linear.bias.zero_()
        decoder.embed_positions.weight.zero_()
        decoder.layer_norm.weight.fill_(1.0)
        decoder.layer_norm.bias.zero_()
        embed, proj = decoder.embed_tokens.weight, model.proj_out.weight
        proj.zero_()
        # zero-mean, orthonormal directions survive the layer norm unchanged in direction
        basis = np.zeros((D_MODEL // 2, D_MODEL), np.float32)
        for i in range(D_MODEL // 2):
            basis[i, 2 * i], basis[i, 2 * i + 1] = 2**-0.5, -(2**-0.5)
        for step, (prev, nxt) in enumerate(itertools.pairwise(chain)):
            direction = torch.from_numpy(basis[step])
            embed[prev] = direction
            proj[nxt] = 10.0 * direction
    return model


def make_tiny_whisper(dest: Path) -> Path:
    """Write the model to dest/hf and its ctranslate2 conversion to dest/ct2; return dest/ct2."""
    dest = Path(dest)
    hf, ct2 = dest / "hf", dest / "ct2"
    tok = make_tokenizer()
    model = make_model(tok)
    model.generation_config.lang_to_id = {
        f"<|{c}|>": tok.token_to_id(f"<|{c}|>") for c in LANGUAGES
    }
    model.save_pretrained(hf)
    PreTrainedTokenizerFast(tokenizer_object=tok).save_pretrained(hf)
    (hf / "preprocessor_config.json").write_text(json.dumps({"feature_size": 80}))
    TransformersConverter(
        str(hf), copy_files=["tokenizer.json", "preprocessor_config.json"]
    ).convert(str(ct2), force=True)
    return ct2


if __name__ == "__main__":
    print(make_tiny_whisper(Path(sys.argv[1])))
