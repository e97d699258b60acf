"""Image bytes beside the shards: ``images/images-<p>.arrow``, one file per first hex digit of the
sha256, rows unique and sorted by sha256, so a loader finds an image by binary search.

Shard rows keep only each image's sha256 and token span; the bytes live here once, however
many rows refer to them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from tokenization.shards import storage as storage
from tokenization.shards.shards import write_shard
from tokenization.shards.storage import ShardCache

IMAGE_SCHEMA = pa.schema(
    [("sha256", pa.string()), ("width", pa.int32()), ("height", pa.int32()), ("bytes", pa.large_binary())]
)


def image_rows(docs: pa.Table) -> pa.Table:
    """The images of a Document table as rows, with ``prefix`` (the sha256's first hex digit)."""
    flat = pc.list_flatten(docs["images"].combine_chunks()) if docs.num_rows else []
    if not len(flat):
        return IMAGE_SCHEMA.append(pa.field("prefix", pa.string())).empty_table()
    table = pa.Table.from_arrays([flat.field(n) for n in IMAGE_SCHEMA.names], schema=IMAGE_SCHEMA)
    return table.append_column("prefix", pc.utf8_slice_codeunits(table["sha256"], 0, 1))


def write_image_part(group: pa.Table, images_dir: str) -> pa.Table:
    """Write one prefix's images, each sha256 once; return its manifest entry (file, images, bytes, sha256)."""
    group = group.sort_by("sha256")
    shas = group["sha256"].to_numpy(zero_copy_only=False)
    first = np.concatenate([[True], shas[1:] != shas[:-1]]) if len(shas) else np.zeros(0, bool)
    unique = group.filter(pa.array(first)).select(IMAGE_SCHEMA.names)
    name = f"images-{group['prefix'][0].as_py()}.arrow"
    entry = write_shard(unique, storage.join(images_dir, name), batch_rows=256)
    return pa.table(
        {"file": [name], "images": [unique.num_rows], "bytes": [entry["bytes"]], "sha256": [entry["sha256"]]}
    )


class ImageStore:
    """Lookup of image bytes by sha256 in a shard directory's ``images/`` (local or remote)."""

    def __init__(self, shard_dir: str, entries: list[dict], cache: ShardCache | None = None) -> None:
        self.dir = storage.join(shard_dir, "images")
        self.entries = {e["file"].removeprefix("images-").removesuffix(".arrow"): e for e in entries}
        self.cache = cache
        self._open: dict[str, tuple[np.ndarray, pa.Table]] = {}

    def _table(self, prefix: str) -> tuple[np.ndarray, pa.Table]:
        if prefix not in self._open:
            entry = self.entries[prefix]
            path = storage.readable(storage.join(self.dir, entry["file"]), entry["bytes"], entry["sha256"], self.cache)
            table = ipc.open_file(pa.memory_map(path)).read_all()
            self._open[prefix] = (table["sha256"].to_numpy(zero_copy_only=False).astype(str), table)
        return self._open[prefix]

    def get(self, sha256: str) -> bytes:
        if sha256[:1] not in self.entries:
            raise KeyError(f"image {sha256} is not in {self.dir}")
        shas, table = self._table(sha256[:1])
        i = int(np.searchsorted(shas, sha256))
        if i == len(shas) or shas[i] != sha256:
            raise KeyError(f"image {sha256} is not in {self.dir}")
        return table["bytes"][i].as_py()
