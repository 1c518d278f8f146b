"""Evaluation: how intelligible, robust and well aligned a checkpoint's speech is.

``alignment`` (diagonality, focus rate, argmax path), ``robustness`` (skip / repeat /
no-stop detector), ``wer`` (scoring normalisation, WER/CER), ``asr`` (faster-whisper),
``mcd`` (MCD-DTW), ``report`` (report data, JSON and markdown) and ``evaluate``
(``tts eval`` and its Python entry point :func:`tts.eval.evaluate.evaluate`).
"""
