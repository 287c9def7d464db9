"""The named errors of syncing with the district, each with an action for staff.

Residents never see these: an application is queued on the kiosk whatever the line does,
and the receipt says so. Staff see them in the sync status and `kiosk sync status`.
"""

from __future__ import annotations

from kiosk.errors import DoorstepError


class SyncError(DoorstepError):
    """The sync could not finish."""

    action = "Nothing is lost: applications stay queued on the kiosk and go when it can."


class NotEnrolled(SyncError):
    """The station has not been enrolled with a district."""

    action = (
        "Ask the district for an enrollment code (`district station add`), then run "
        "`kiosk enroll --server URL --code CODE`."
    )


class EnrollmentRefused(SyncError):
    """The district refused the enrollment code."""

    action = (
        "Check the code; a code is used once and expires. Ask the district for a new one "
        "if it is used or expired."
    )


class StationRevoked(SyncError):
    """The district no longer accepts this station."""

    action = (
        "The district shut this station out. Applications stay queued on the kiosk; ask "
        "the district to enroll the station again, then run `kiosk enroll`."
    )


class DistrictUnreachable(SyncError):
    """The network or the district server is away."""

    action = "Check the station's network; the kiosk keeps trying by itself."


class DistrictFailing(SyncError):
    """The district server answered with an error of its own (5xx)."""

    action = "The district's server has a problem; the kiosk keeps trying by itself."


class BadAnswer(SyncError):
    """The district answered something the protocol does not allow."""

    action = "Report this to the district's technicians; the kiosk keeps its queue and retries."


class RequestRefused(SyncError):
    """The district refused a request (4xx) that retrying as it is will not cure."""

    action = "Report this to the district's technicians, with the kiosk's log."
