"""Photos, videos and PDF documents made into proper DICOM and received like any instance.

`media_attach` is the service; `extract` reads the video or document back out for playback.
"""

from imaging.convert.attach import DOCUMENT, PHOTO, VIDEO, Attached, media_attach, media_kind
from imaging.convert.common import MediaRefused
from imaging.convert.video import ENDOSCOPY, OTHER

__all__ = [
    "DOCUMENT", "ENDOSCOPY", "OTHER", "PHOTO", "VIDEO",
    "Attached", "MediaRefused", "media_attach", "media_kind",
]  # fmt: skip
