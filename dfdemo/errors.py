"""Typed errors. Every message says what is wrong and, where there is one, the fix."""


class DfdemoError(Exception):
    """Base class of every error dfdemo raises on purpose."""


class MediaError(DfdemoError):
    """The input file cannot be analysed (missing, empty, not a video/image, broken, too large)."""


class WeightsError(DfdemoError):
    """Detector weights cannot be found or loaded (bad folder, unknown Hub repo, pickled checkpoint)."""
