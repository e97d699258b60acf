import pyarrow as pa
import pytest

from pipeline.images.caption_filters import CaptionFilterConfig, caption_filter, caption_of, caption_reason
from pipeline.schema import IMAGE_MARKER, WORK_SCHEMA

CFG = CaptionFilterConfig()
M = IMAGE_MARKER


@pytest.mark.parametrize(
    ("text", "images", "reason"),
    [
        (f"{M}\nChelsea the cat sitting on a rug.", 1, None),
        (f"{M}\nAnnotated syntax diagram of the RewriteRule directive.", 1, None),
        ("Chelsea the cat sitting on a rug.", 0, "too_few_images"),  # OBELICS: at least 1 image
        (M * 31 + "\nThirty-one pictures of one cat.", 31, "too_many_images"),  # OBELICS: at most 30
        (M * 30 + "\nThirty pictures of one cat.", 30, None),
        (f"{M}\ngrace_hopper.jpg", 1, "boilerplate_caption"),  # the sample's file-name captions
        (f"{M}\nIMG_1234", 1, "boilerplate_caption"),  # a camera counter
        (f"{M}\nDSC01234.JPG", 1, "boilerplate_caption"),
        (f"{M}\nClick here!", 1, "boilerplate_caption"),
        (f"{M}\nUntitled", 1, "boilerplate_caption"),
        (f"{M}\n2023 - 04 - 01", 1, "boilerplate_caption"),  # no letter at all
        (f"{M}\n<-", 1, "boilerplate_caption"),  # an arrow's alt text, from the sample
        (f"{M}\nBrick wall.", 1, "too_few_words"),  # DataComp: more than 2 words
        (f"{M}\nbalancer-manager page", 1, "too_few_words"),
        (f"{M}\nA b c", 1, "too_short"),  # three words, but DataComp also wants more than 5 characters
        (f"{M}\nA bc d", 1, None),  # six characters
    ],
)
def test_rules_known_answers(text, images, reason):
    assert caption_reason(text, images, "en", CFG) == reason


def test_caption_is_the_text_without_markers():
    assert caption_of(f"{M}\nA cat {M} on a rug. ") == "A cat on a rug."


def test_unspaced_languages_skip_the_word_rule_only():
    ja = f"{M}\n世界的に広がる開発者"  # one whitespace-separated "word", ten characters
    assert caption_reason(ja, 1, "ja", CFG) is None
    assert caption_reason(ja, 1, "en", CFG) == "too_few_words"
    assert caption_reason(f"{M}\n開発者", 1, "ja", CFG) == "too_short"


def test_rules_switch_off():
    off = CaptionFilterConfig(min_words=None, min_chars=None, boilerplate=False, min_images=None, max_images=None)
    for text in ("", f"{M}\nlogo.png", f"{M}\nHi"):
        assert caption_reason(text, 0, "en", off) is None


def test_stage_adds_drop_reasons_in_row_order():
    rows = [
        {
            "id": str(i),
            "source": "multimodal",
            "text": t,
            "meta": "{}",
            "status": "kept",
            "rewrites": [],
            "language": "en",
            "images": [{"sha256": "0" * 64, "width": 200, "height": 200, "bytes": b"x"}] * n,
        }
        for i, (t, n) in enumerate([(f"{M}\nA cat on a rug.", 1), (f"{M}\nlogo", 1), ("A cat on a rug.", 0)])
    ]
    out = caption_filter(pa.Table.from_pylist(rows, schema=WORK_SCHEMA), CFG)
    assert out["drop_reason"].to_pylist() == [None, "boilerplate_caption", "too_few_images"]
