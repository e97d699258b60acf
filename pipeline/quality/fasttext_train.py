"""fastText's supervised training in a process of its own: ``python -m pipeline.quality.fasttext_train JSON``.

fastText 0.9.2 initializes only the first tenth of its input matrix when it trains on one thread
(``DenseMatrix::uniformThread`` fills block 0 of 10) and leaves the rest as malloc returned it. In a
process that has freed large blocks before, that is old data: a second model in one process differed
from the first or diverged ("Encountered NaN"), and inside the test suite even the first did. Here the
process is new and glibc serves every allocation of 4 KiB or more from fresh, zeroed pages
(``MALLOC_MMAP_THRESHOLD_``, set by the parent before the process starts), so the rest of the matrix is
zeros, as in a first training in a new process, every time.
"""

from __future__ import annotations

import json
import sys

LR_ATTEMPTS = 4  # a diverging run is retried at half the learning rate
ENV = {"MALLOC_MMAP_THRESHOLD_": "4096"}


def main(args: dict) -> dict:
    import fasttext

    lr = args["lr"]
    for attempt in range(LR_ATTEMPTS):
        try:
            model = fasttext.train_supervised(
                input=args["input"],
                lr=lr,
                dim=args["dim"],
                ws=args["ws"],
                epoch=args["epoch"],
                minCount=args["min_count"],
                wordNgrams=args["word_ngrams"],
                bucket=args["bucket"],
                thread=1,  # one thread: the model's bytes depend on nothing but data, settings and seed
                seed=args["seed"],
                verbose=0,
            )
            model.save_model(args["output"])
            return {"lr_used": lr, "attempts": attempt + 1}
        except RuntimeError as e:  # fastText's only signal of a diverging loss
            if attempt == LR_ATTEMPTS - 1:
                return {"error": f"fastText diverged down to lr {lr} ({e})"}
            lr /= 2
    raise AssertionError("unreachable")


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
