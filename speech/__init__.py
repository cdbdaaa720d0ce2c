"""Speech: offline Chinese TTS, ASR (sherpa-onnx, Vosk), telephony audio, text normalisation.

Public API (docs/architecture.md, "speech"): synthesize, cached, synthesize_sentences, sentence_parts,
synthesize_part, prerender, render (async, in the TTS pool), cached_part, prerender_part, quick_parts,
normalize_for_speech, plain_text, split_sentences, recognize_file, warm_up, open_stream, Recognition, StreamingRecognizer,
spoken_digits, g711_bytes, write_g711_wav, decode_g711, SpeechError; for matching spoken phrases on the
recogniser's syllables: phrase_syllables, syllable_distance, allowed_errors.
"""

from speech.asr import Endpointing, Recognition, StreamingRecognizer, open_stream, recognize_file
from speech.errors import SpeechError
from speech.grammar import allowed_errors, phrase_syllables, syllable_distance
from speech.normalize import normalize_for_speech, split_sentences, spoken_digits
from speech.plaintext import plain_text
from speech.telephony import decode_g711, g711_bytes, write_g711_wav
from speech.tts import (
    cached,
    cached_part,
    prerender,
    prerender_part,
    quick_parts,
    render,
    sentence_parts,
    synthesize,
    synthesize_part,
    synthesize_sentences,
    warm_up,
)

__all__ = [
    "cached",
    "cached_part",
    "Endpointing",
    "allowed_errors",
    "phrase_syllables",
    "syllable_distance",
    "Recognition",
    "SpeechError",
    "StreamingRecognizer",
    "decode_g711",
    "g711_bytes",
    "normalize_for_speech",
    "open_stream",
    "plain_text",
    "prerender",
    "prerender_part",
    "quick_parts",
    "render",
    "recognize_file",
    "sentence_parts",
    "spoken_digits",
    "split_sentences",
    "synthesize",
    "synthesize_part",
    "synthesize_sentences",
    "warm_up",
    "write_g711_wav",
]
