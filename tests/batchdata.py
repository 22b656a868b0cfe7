"""A folder of small test photos for the batch tests, and a buggy job (not a test module)."""

import pathlib
from dataclasses import dataclass

from PIL import Image

from convtool.pipeline import FilterJob

NAMES = ["astronaut", "camera", "chelsea", "coffee", "horse"]


def make_photo_folder(root: pathlib.Path, samples: pathlib.Path, count: int = 30,
                      side: int = 24) -> dict:
    """Write ``count`` small crops of the sample photos into ``root/photos``.

    Also a corrupt PNG, a text file, and a sub-folder with three more images.
    Returns the paths of interest.
    """
    folder = root / "photos"
    sub = folder / "sub"
    sub.mkdir(parents=True)
    sources = []
    for name in NAMES:
        with Image.open(samples / f"{name}.png") as im:
            sources.append(im.copy())
    images = []
    for i in range(count):
        im = sources[i % len(sources)]
        x, y = 7 * i % (im.width - side), 5 * i % (im.height - side)
        crop = im.crop((x, y, x + side, y + side))
        path = folder / f"img{i:03d}.png"
        crop.save(path)
        images.append(path)
    for i in range(3):
        path = sub / f"deep{i}.png"
        sources[i].crop((0, 0, side, side)).save(path)
        images.append(path)
    corrupt = folder / "broken.png"
    corrupt.write_bytes(images[0].read_bytes()[:60])  # a PNG cut short
    text = folder / "notes.txt"
    text.write_text("not a picture\n")
    return {"folder": folder, "sub": sub, "images": images, "corrupt": corrupt, "text": text}



@dataclass(frozen=True)
class BuggyJob(FilterJob):
    """A job with a bug: it fails in whichever process filters with it.

    Defined here, not in a test module, so that spawned worker processes can unpickle it.
    """

    def method_for(self, shape, dtype="float32"):
        raise RuntimeError("planted bug in the worker")
