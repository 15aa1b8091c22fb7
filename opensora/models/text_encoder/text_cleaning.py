"""Open-Sora v1.2 prompt preprocessing: score suffixes and the caption cleaner.

Provenance: the cleaning rules reproduce ``clean_caption`` of PixArt-alpha/PixArt-alpha
(AGPL-3.0), as used unchanged by hpcaitech/Open-Sora ``opensora/models/text_encoder/t5.py``
(``text_preprocessing``, applied twice at inference). The patterns must stay identical for the
published weights to see the prompts they were evaluated with; they are restated here as data tables.

Inference order (Open-Sora ``scripts/inference.py``): append the score suffixes, then clean twice.
Training captions are used as they are (not cleaned).

Example: "A Beautiful waterfall, 4K (HD) in the forest." ->
"a beautiful waterfall, 4k hd in the forest. aesthetic score: 6.5."
"""
import html
import re
import urllib.parse
from typing import Iterable, Optional

_URL_TAIL = r"[a-zA-Z0-9.\-]+[.](?:com|co|ru|net|org|edu|gov|it)[\w/-]*\b\/?(?!@)))"
_BAD_PUNCT = r"[#®•©™&@·º½¾¿¡§~\)\(\]\[\}\{\|\\\/\*]{1,}"
_DASHES = (r"[\u002D\u058A\u05BE\u1400\u1806\u2010-\u2015\u2E17\u2E1A\u2E3A\u2E3B\u2E40\u301C\u3030\u30A0"
           r"\uFE31\uFE32\uFE58\uFE63\uFF0D]+")
_CJK_RANGES = ("\u31c0-\u31ef", "\u31f0-\u31ff", "\u3200-\u32ff", "\u3300-\u33ff", "\u3400-\u4dbf",
               "\u4dc0-\u4dff", "\u4e00-\u9fff")
_FILE_EXT = r"(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)"


def _table(rules) -> tuple:
    return tuple((re.compile(pattern), repl) for pattern, repl in rules)


# Before the HTML pass: persons, URLs.
_PRE_HTML = _table([
    (r"<person>", "person"),
    (r"\b((?:https?:(?:\/{1,3}|[a-zA-Z0-9%])|" + _URL_TAIL, ""),
    (r"\b((?:www:(?:\/{1,3}|[a-zA-Z0-9%])|" + _URL_TAIL, ""),
])

# After the HTML pass: nicknames, CJK, dashes, quotes, entities, ids, numbers, file names, punctuation.
_POST_HTML = _table(
    [(r"@[\w\d]+\b", "")]
    + [(f"[{r}]+", "") for r in _CJK_RANGES]
    + [
        (_DASHES, "-"),
        (r"[`´«»“”¨]", '"'),
        (r"[‘’]", "'"),
        (r"&quot;?", ""),
        (r"&amp", ""),
        (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", " "),
        (r"\d:\d\d\s+$", ""),
        (r"\\n", " "),
        (r"#\d{1,3}\b", ""),
        (r"#\d{5,}\b", ""),
        (r"\b\d{6,}\b", ""),
        (r"[\S]+\." + _FILE_EXT, ""),
        (r"[\"\']{2,}", r'"'),
        (r"[\.]{2,}", r" "),
        (_BAD_PUNCT, r" "),
        (r"\s+\.\s+", r" "),
    ]
)

_SEPARATORS = re.compile(r"(?:\-|\_)")

# After ftfy: product codes, shop spam, file types, pages, sizes, then spacing and edge punctuation.
_POST_FIX = _table([
    (r"\b[a-zA-Z]{1,3}\d{3,15}\b", ""),
    (r"\b[a-zA-Z]+\d+[a-zA-Z]+\b", ""),
    (r"\b\d+[a-zA-Z]+\d+\b", ""),
    (r"(worldwide\s+)?(free\s+)?shipping", ""),
    (r"(free\s)?download(\sfree)?", ""),
    (r"\bclick\b\s(?:for|on)\s\w+", ""),
    (r"\b" + _FILE_EXT + r"(\simage[s]?)?", ""),
    (r"\bpage\s+\d+\b", ""),
    (r"\b\d*[a-zA-Z]+\d+[a-zA-Z]+\d+[a-zA-Z\d]*\b", r" "),
    (r"\b\d+\.?\d*[xх×]\d+\.?\d*\b", ""),
    (r"\b\s+\:\s+", r": "),
    (r"(\D[,\./])\b", r"\1 "),
    (r"\s+", " "),
    (r"^[\"\']([\w\W]+)[\"\']$", r"\1"),
    (r"^[\'\_,\-\:;]", r""),
    (r"[\'\_,\-\:\-\+]$", r""),
    (r"^\.\S+$", ""),
])


def _apply(rules: tuple, text: str) -> str:
    for pattern, repl in rules:
        text = pattern.sub(repl, text)
    return text


def _strip_html(text: str) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(text, features="html.parser").text


def _fix_text(text: str) -> str:
    import ftfy

    return html.unescape(html.unescape(ftfy.fix_text(text))).strip()


def clean_caption(caption: str) -> str:
    """One pass of the PixArt / Open-Sora caption cleaner (lower-case; URLs, HTML, odd punctuation out)."""
    text = urllib.parse.unquote_plus(str(caption)).strip().lower()
    text = _strip_html(_apply(_PRE_HTML, text))
    text = _apply(_POST_HTML, text)
    if len(_SEPARATORS.findall(text)) > 3:  # this-is-my-cute-cat -> words
        text = _SEPARATORS.sub(" ", text)
    return _apply(_POST_FIX, _fix_text(text)).strip()


def append_scores(prompt: str, aes: Optional[float] = None, flow: Optional[float] = None,
                  camera_motion: Optional[str] = None) -> str:
    """Append " aesthetic score: X.X." / " motion score: X.X." / " camera motion: M." unless present."""
    if aes is not None and "aesthetic score:" not in prompt:
        prompt = f"{prompt} aesthetic score: {aes:.1f}."
    if flow is not None and "motion score:" not in prompt:
        prompt = f"{prompt} motion score: {flow:.1f}."
    if camera_motion is not None and "camera motion:" not in prompt:
        prompt = f"{prompt} camera motion: {camera_motion}."
    return prompt


def preprocess_prompts(prompts: Iterable[str], clean: bool = True, aes: Optional[float] = None,
                       flow: Optional[float] = None, camera_motion: Optional[str] = None) -> list:
    """Open-Sora's inference preprocessing: append the score suffixes, then clean twice (if ``clean``)."""
    out = []
    for prompt in prompts:
        prompt = append_scores(prompt, aes, flow, camera_motion)
        out.append(clean_caption(clean_caption(prompt)) if clean else prompt)
    return out
