"""Draw the --linear before/after pair shown in the README.

    PYTHONPATH=src python docs/make_linear_example.py

Writes docs/linear-source.png (the test pattern), docs/linear-off.png (Gaussian
blur, sigma 3, on the sRGB values: the default) and docs/linear-on.png (the
same blur in linear light, as ``convtool blur --linear``).

The pattern: thin red and green stripes (top), white dots on black (middle),
black and white stripes (bottom). Blurred on sRGB values, red and green mix to
a dark olive and the dots and stripes lose brightness; in linear light they
average to the light the eye sees from a distance.
"""

import pathlib

import numpy as np

from convtool import imaging
from convtool.batch import FilterJob, apply_job
from convtool.kernels import gaussian_kernel

HERE = pathlib.Path(__file__).resolve().parent
WIDTH, BAND = 192, 40


def pattern() -> np.ndarray:
    px = np.zeros((3 * BAND, WIDTH, 3), np.float32)
    columns = np.arange(WIDTH)
    red = (columns // 2) % 2 == 0
    px[:BAND, red] = (1, 0, 0)
    px[:BAND, ~red] = (0, 1, 0)
    px[BAND + 4:2 * BAND - 4:6, 4::6] = 1.0  # single white pixels
    px[2 * BAND:, (columns // 2) % 2 == 0] = 1.0
    return px


def main() -> None:
    source = imaging.Image(pattern(), "RGB")
    imaging.write_image(source, HERE / "linear-source.png")
    for linear, name in ((False, "linear-off.png"), (True, "linear-on.png")):
        job = FilterJob(gaussian_kernel(3.0), linear=linear)
        imaging.write_image(apply_job(job, source), HERE / name,
                            imaging.SaveOptions(compress_level=9))


if __name__ == "__main__":
    main()
