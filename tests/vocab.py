"""Real tokenizers without the Hub: the vocabularies llama.cpp ships in its PyPI sdist.

``llama-cpp-python`` 0.3.36's sdist carries ``vendor/llama.cpp/models/ggml-vocab-*.gguf``:
Llama 3 (BPE, 128,256 tokens), Qwen2/2.5 (151,936, with its chat template) and Llama 2
(SentencePiece, 32,000). The sdist is downloaded once from PyPI (checked against the index's
sha256), the three files are extracted, and each is converted once into a plain tokenizer
folder (transformers' ``gguf_file=`` loader is slow); later runs read the folders. Tests
skip, saying why, when the download or the ``gguf`` package is not available.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import urllib.request
from pathlib import Path

SDIST = "llama_cpp_python-0.3.36.tar.gz"
INDEX = "https://pypi.org/simple/llama-cpp-python/"
VOCABS = {"llama3": "ggml-vocab-llama-bpe.gguf", "qwen2": "ggml-vocab-qwen2.gguf",
          "llama2": "ggml-vocab-llama-spm.gguf"}  # fmt: skip


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ttscale-vocab"
    return Path(os.environ.get("TTSCALE_VOCAB_CACHE", default))


def _download_gguf(folder: Path) -> None:
    """Fetch the sdist (sha256 from the index) and extract the three vocabulary files."""
    html = urllib.request.urlopen(INDEX, timeout=60).read().decode()
    m = re.search(rf'href="([^"]*{re.escape(SDIST)})#sha256=([0-9a-f]+)"', html)
    if m is None:
        raise OSError(f"{SDIST} is not on {INDEX}")
    data = urllib.request.urlopen(m.group(1), timeout=300).read()
    if hashlib.sha256(data).hexdigest() != m.group(2):
        raise OSError(f"{SDIST}: sha256 mismatch")
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if name in VOCABS.values() and "/models/" in member.name:
                (folder / name).write_bytes(tar.extractfile(member).read())


def tokenizer_folder(which: str) -> Path:
    """A folder ``AutoTokenizer.from_pretrained`` loads: the real ``which`` vocabulary.

    Raises:
        OSError / ImportError: the sdist cannot be downloaded, or ``gguf`` is missing.
    """
    out = cache_dir() / which
    if (out / "tokenizer_config.json").is_file():
        return out
    gguf_dir = cache_dir() / "gguf"
    if not (gguf_dir / VOCABS[which]).is_file():
        _download_gguf(gguf_dir)
    import gguf  # noqa: F401  (transformers needs it for gguf_file=)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=VOCABS[which])
    tmp = out.with_name(out.name + ".tmp")
    tok.save_pretrained(tmp)
    tmp.rename(out)
    return out
