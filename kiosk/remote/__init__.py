"""Remote assistance: the aiortc peer and the signaling client."""
