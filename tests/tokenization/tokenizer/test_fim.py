from tokenization.tokenizer.fim import FimConfig, fim_segments
from tokenization.tokenizer.special_tokens import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, SPECIAL_IDS

PRE, SUF, MID = SPECIAL_IDS[FIM_PREFIX], SPECIAL_IDS[FIM_SUFFIX], SPECIAL_IDS[FIM_MIDDLE]
CODE = "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n"


def test_psm_format_reassembles_the_document():
    cfg = FimConfig(rate=1.0)
    for i in range(50):
        seg = fim_segments(CODE, f"code/repo#{i}", seed=3, cfg=cfg)
        assert [seg[0], seg[2], seg[4]] == [PRE, SUF, MID]
        prefix, suffix, middle = seg[1], seg[3], seg[5]
        assert prefix + middle + suffix == CODE


def test_spm_order():
    seg = fim_segments(CODE, "code/x#1", seed=3, cfg=FimConfig(rate=1.0, order="spm"))
    assert [seg[0], seg[2], seg[4]] == [SUF, PRE, MID]
    assert seg[3] + seg[5] + seg[1] == CODE


def test_rate_and_determinism():
    cfg = FimConfig(rate=0.1)
    chosen = [fim_segments(CODE, f"code/f#{i}", seed=11, cfg=cfg) is not None for i in range(20000)]
    assert 0.09 < sum(chosen) / len(chosen) < 0.11
    again = [fim_segments(CODE, f"code/f#{i}", seed=11, cfg=cfg) is not None for i in range(20000)]
    assert chosen == again
    other_seed = [fim_segments(CODE, f"code/f#{i}", seed=12, cfg=cfg) is not None for i in range(20000)]
    assert chosen != other_seed
    assert fim_segments(CODE, "code/f#1", seed=11, cfg=FimConfig(rate=0.0)) is None
