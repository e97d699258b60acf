import numpy as np

from tokenization.shards.mask_picture import mask_image
from tokenization.shards.masks import MaskConfig, block_layout


def test_picture_colours_documents_and_leaves_the_future_white():
    cu = np.array([0, 300, 700, 1000], dtype=np.int32)  # three documents, then padding
    layout = block_layout(cu, 1024, MaskConfig(block_size=64), seed=0, row_key="r")
    image = np.asarray(mask_image(cu, layout, 1024, 64, "block_sparse", pixels=512))
    assert image.shape == (512, 512, 3)
    assert (image[10, 400] == 255).all()  # a key in the future: white
    first, second = image[100, 50], image[400, 360]  # inside document 0 and document 1, near the diagonal
    assert tuple(first) != tuple(second) and not (first == 255).all() and not (second == 255).all()
    assert (image[400, 50] == 255).all() or (image[400, 50] == 225).all()  # across documents: never coloured
    assert (image[510, 510] == 90).all()  # padding attends to itself
