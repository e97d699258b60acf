import numpy as np

from tokenization.shards.histograms import (
    FILL_BINS,
    LOG2_BINS,
    fill_counts,
    fill_edges,
    log2_counts,
    log2_edges,
    merge,
)


def test_log2_bins_hold_values_between_their_edges():
    values = np.array([0, 1, 2, 3, 4, 1000, 4096, 2**45])
    counts = log2_counts(values)
    edges = log2_edges()
    assert len(counts) == LOG2_BINS == len(edges) - 1 and sum(counts) == len(values)
    for v in values[:-1]:  # the last is past the top edge and counts in the last bin
        b = next(i for i in range(LOG2_BINS) if edges[i] <= v < edges[i + 1])
        assert counts[b] >= 1
    assert counts[0] == 1 and counts[1] == 1 and counts[2] == 2 and counts[-1] == 1


def test_fill_bins_put_a_full_row_in_the_last_bin_and_merge_by_adding():
    counts = fill_counts(np.array([0.0, 0.049, 0.05, 0.5, 0.999, 1.0]))
    assert len(fill_edges()) == FILL_BINS + 1 and counts[0] == 2 and counts[1] == 1 and counts[10] == 1
    assert counts[-1] == 2
    total: dict[str, list[int]] = {}
    merge(total, {"all": counts})
    merge(total, {"all": counts, "web": counts})
    assert total["all"] == [2 * c for c in counts] and total["web"] == counts
