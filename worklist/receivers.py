"""Worklist reactions to what the imaging app announces."""

import logging

from worklist.matching import study_order_match

logger = logging.getLogger(__name__)


def study_arrived(sender, *, study_id: int, **kwargs) -> None:
    """A study was first seen: match it to its order. Runs after the ingest commit, on the
    listener's thread, so a failure here is logged and never reaches the sender."""
    try:
        study_order_match(study_id=study_id)
    except Exception:
        logger.exception("matching study %s to its order failed", study_id)
