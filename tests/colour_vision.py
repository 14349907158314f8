"""How far apart two colours look, to people with full colour vision and with each colour-vision
deficiency (about 1 in 12 men has one): CIELAB ΔE (1976) after simulating each deficiency."""
import itertools

import numpy as np

# Machado, Oliveira & Fernandes (2009), full severity, applied to linear RGB
SIMULATE = {
    "full colour vision": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
WHITE = SRGB_TO_XYZ @ np.ones(3)


def rgb(colour) -> np.ndarray:
    """'#0072b2' or an RGB triple in [0, 1] → an RGB triple in [0, 1]."""
    if isinstance(colour, str):
        return np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.asarray(colour, dtype=float)


def linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def lab(linear_rgb: np.ndarray) -> np.ndarray:
    xyz = np.clip(SRGB_TO_XYZ @ np.clip(linear_rgb, 0, 1), 0, None) / WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def difference(a, b, vision: str) -> float:
    """ΔE between colours `a` and `b` as seen with `vision` (a key of SIMULATE)."""
    m = SIMULATE[vision]
    return float(np.linalg.norm(lab(m @ linear(rgb(a))) - lab(m @ linear(rgb(b)))))


def least_difference(colours) -> float:
    """The smallest ΔE between any two of `colours`, for any kind of colour vision."""
    return min(difference(a, b, v) for a, b in itertools.combinations(colours, 2) for v in SIMULATE)


def grey_difference(a, b) -> float:
    """Luminance difference (0…1): what is left on a washed-out projector or a greyscale print."""
    y = np.array([0.2126, 0.7152, 0.0722])
    return abs(float(y @ linear(rgb(a)) - y @ linear(rgb(b))))
