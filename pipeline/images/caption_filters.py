"""Caption rules for image-text documents: too short, boilerplate, or too few or many images.

A caption is the document's text with its image markers removed. Alt texts and captions
scraped from pages are often a file name, a camera counter or a placeholder word; such a pair
teaches a model nothing about the picture (DataComp's and LAION's motivation for caption rules).
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from pipeline.config_base import StrictModel
from pipeline.schema import IMAGE_MARKER
from pipeline.stage_spec import Scope, StageSpec

# Placeholder alt texts and captions seen on web pages: they name no content of the picture.
BOILERPLATE = [
    "image",
    "img",
    "photo",
    "picture",
    "pic",
    "graphic",
    "icon",
    "logo",
    "banner",
    "thumbnail",
    "spacer",
    "placeholder",
    "untitled",
    "click here",
    "click to enlarge",
    "read more",
    "more",
    "top",
    "back to top",
    "arrow",
    "button",
    "no image",
    "image not found",
    "null",
    "none",
    "undefined",
]
# A file name (``grace_hopper.jpg``) or a camera/scanner counter (``IMG_1234``, ``DSC01234``, ``image 3``).
_FILE_NAME = re.compile(r"^[\w\-. ()\[\]]*\.(jpe?g|png|gif|webp|bmp|tiff?|svg|ico|heic|avif)$", re.IGNORECASE)
_COUNTER = re.compile(r"^(img|dsc[fn]?|dcim|pict?|photo|image|picture|screenshot|scan)[\s_\-]*\d+$", re.IGNORECASE)
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")


class CaptionFilterConfig(StrictModel):
    # DataComp's basic filter (Gadre et al. 2023): more than 2 words (whitespace split) and more than 5 characters.
    min_words: int | None = Field(3, ge=1)
    min_chars: int | None = Field(6, ge=1)
    # Languages written without spaces between words: the word rule skips them (the character rule still applies).
    unspaced_languages: list[str] = Field(default_factory=lambda: ["zh", "ja", "th", "lo", "km", "my", "bo"])
    boilerplate: bool = True  # file names, counters, a caption with no letter, and the BOILERPLATE words
    boilerplate_words: list[str] = Field(default_factory=lambda: list(BOILERPLATE))
    # OBELICS (Laurençon et al. 2023) keeps web documents with 1 to 30 images.
    min_images: int | None = Field(1, ge=0)
    max_images: int | None = Field(30, ge=1)


def caption_of(text: str) -> str:
    return " ".join(text.replace(IMAGE_MARKER, " ").split())


def is_boilerplate(caption: str, words: set[str]) -> bool:
    if not any(ch.isalpha() for ch in caption):
        return True  # numbers, arrows, punctuation
    bare = _EDGE.sub("", caption.lower())
    return bare in words or bool(_FILE_NAME.match(caption) or _COUNTER.match(bare))


def caption_reason(text: str, n_images: int, language: str | None, cfg: CaptionFilterConfig) -> str | None:
    """The first rule this document fails, or None."""
    if cfg.min_images is not None and n_images < cfg.min_images:
        return "too_few_images"
    if cfg.max_images is not None and n_images > cfg.max_images:
        return "too_many_images"
    caption = caption_of(text)
    if cfg.boilerplate and is_boilerplate(caption, set(cfg.boilerplate_words)):
        return "boilerplate_caption"
    if cfg.min_words is not None and language not in cfg.unspaced_languages and len(caption.split()) < cfg.min_words:
        return "too_few_words"
    if cfg.min_chars is not None and len(caption) < cfg.min_chars:
        return "too_short"
    return None


def caption_filter(table: pa.Table, cfg: CaptionFilterConfig) -> pa.Table:
    """Filter stage: ``drop_reason`` names the first caption or image-count rule a document fails."""
    counts = pc.fill_null(pc.list_value_length(table["images"]), 0).to_pylist()  # no image bytes copied
    reasons = [
        caption_reason(t, n, lang, cfg)
        for t, n, lang in zip(table["text"].to_pylist(), counts, table["language"].to_pylist())
    ]
    return table.append_column("drop_reason", pa.array(reasons, pa.string()))


# image-text pairs: their text is a caption
SPEC = StageSpec(
    "caption_filter",
    "filter",
    caption_filter,
    CaptionFilterConfig,
    Scope(sources=["multimodal"]),
    ("too_few_images", "too_many_images", "boilerplate_caption", "too_few_words", "too_short"),
)
