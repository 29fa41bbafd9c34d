"""(ae) Organisation trails: who may make one, and the shadow trails member accounts see."""

from __future__ import annotations

import json
from typing import Any

from moto.cloudtrail import models as ct_models
from moto.cloudtrail import responses as ct_responses
from moto.cloudtrail.exceptions import TrailNameTooShort, TrailNotFoundException
from moto.core.exceptions import JsonRESTError
from moto.utilities.utils import get_partition

from .organizations import active_accounts, management_of, organization_backend, trusted_access


# ---------------------------------------------------------------------------------------------
# (ae) Organisation trails and shadow trails.
# moto 5.2.5: DescribeTrails (includeShadowTrails, default true) lists the account's multi-region
# trails in every region and GetTrailStatus finds them by name or ARN, but only inside the
# account that made them; IsOrganizationTrail is only stored (any account may set it), members
# never see an organisation trail, DescribeTrails ignores trailNameList, and GetTrail finds only
# the region's own trails.
# AWS:
# - CreateTrail/UpdateTrail with IsOrganizationTrail true: an account in no organisation gets
#   OrganizationsNotInUseException; a member (not the management account)
#   NotOrganizationMasterAccountException; an organisation without all features
#   OrganizationNotInAllFeaturesModeException; without trusted access for
#   cloudtrail.amazonaws.com (EnableAWSServiceAccess) CloudTrailAccessNotEnabledException.
# - Every ACTIVE account of the organisation sees the management account's organisation trail in
#   DescribeTrails (includeShadowTrails true) in its home region, and in every region when it is
#   multi-region: the same TrailARN (the management account's), HomeRegion, S3BucketName,
#   S3KeyPrefix, SnsTopicARN, KmsKeyId, IsOrganizationTrail true.  includeShadowTrails false
#   lists only the account's own trails of the region.
# - GetTrailStatus in a member: an organisation trail only by its full ARN (its name alone is
#   TrailNotFoundException), and it answers the trail's status (IsLogging, ...).  GetTrail takes
#   the ARN of a trail the region sees (its own shadow or an organisation trail).
# - DescribeTrails' trailNameList: an ARN names any trail the region sees; a bare name only the
#   account's own trails whose home is this region.
# ---------------------------------------------------------------------------------------------

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"


class _CloudTrailError(JsonRESTError):
    code = 400


def org_trail_refusal(account: str) -> _CloudTrailError | None:
    """Why `account` may not make (or turn a trail into) an organisation trail, or None."""
    management = management_of(account)
    if management is None:
        return _CloudTrailError(
            "OrganizationsNotInUseException",
            f"Account {account} is not a member of an organization in AWS Organizations, so it cannot create an organization trail.",
        )
    if management != account:
        return _CloudTrailError(
            "NotOrganizationMasterAccountException",
            f"Account {account} is not the management account of organization {organization_backend(account).org.id}.",
        )
    if organization_backend(account).org.feature_set != "ALL":
        return _CloudTrailError(
            "OrganizationNotInAllFeaturesModeException",
            "All features must be enabled in AWS Organizations to create an organization trail.",
        )
    if not trusted_access(account, CLOUDTRAIL_PRINCIPAL):
        return _CloudTrailError(
            "CloudTrailAccessNotEnabledException",
            "Trusted access for CloudTrail (cloudtrail.amazonaws.com) is not enabled in AWS Organizations.",
        )
    return None


def org_trails_seen_by(account: str, region: str) -> list[Any]:
    """The organisation trails of `account`'s organisation that a member sees in `region`
    ([] for the management account, which sees them as its own trails)."""
    management = management_of(account)
    if management is None or management == account or account not in active_accounts(account):
        return []
    per_account = dict.get(ct_models.cloudtrail_backends, management)
    if per_account is None:
        return []
    seen = []
    for backend in list(per_account.values()):
        for trail in list(backend.trails.values()):
            if trail.is_org_trail and (trail.is_multi_region or trail.region_name == region):
                seen.append(trail)
    return seen


def find_trail(arn: str) -> Any:
    """The trail of this ARN (in its owner's home region), or None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "cloudtrail" or not parts[5].startswith("trail/"):
        return None
    per_account = dict.get(ct_models.cloudtrail_backends, parts[4])
    backend = dict.get(per_account, parts[3]) if per_account is not None else None
    trail = backend.trails.get(parts[5][len("trail/"):]) if backend is not None else None
    return trail if trail is not None and trail.arn == arn else None


_orig_describe_trails = ct_models.CloudTrailBackend.describe_trails
_orig_create_trail = ct_responses.CloudTrailResponse.create_trail
_orig_update_trail = ct_responses.CloudTrailResponse.update_trail
_orig_get_trail = ct_responses.CloudTrailResponse.get_trail


def _describe_trails(self: Any, include_shadow_trails: bool) -> list[Any]:
    trails = list(_orig_describe_trails(self, include_shadow_trails))
    if include_shadow_trails:
        trails.extend(org_trails_seen_by(self.account_id, self.region_name))
    return trails


def _get_trail_status(self: Any, name: str) -> Any:
    if len(name) < 3:
        raise TrailNameTooShort(actual_length=len(name))
    for trail in self.describe_trails(include_shadow_trails=True):
        # A bare name finds the account's own trails only (AWS: an organisation trail needs its ARN).
        if trail.arn == name or (trail.trail_name == name and trail.account_id == self.account_id):
            return trail.status
    arn = name if name.startswith("arn:") else (
        f"arn:{get_partition(self.region_name)}:cloudtrail:{self.region_name}:{self.account_id}:trail/{name}"
    )
    raise TrailNotFoundException(account_id=self.account_id, name=arn)


def _refuse_org_trail(method: Any) -> Any:
    def wrapper(self: Any) -> Any:
        if self._get_param("IsOrganizationTrail") in (True, "true", "True"):
            refusal = org_trail_refusal(self.current_account)
            if refusal is not None:
                raise refusal
        return method(self)

    wrapper.__name__ = method.__name__
    return wrapper


def _describe_trails_response(self: Any) -> str:
    include = self._get_bool_param("includeShadowTrails", True)
    names = self._get_param("trailNameList") or []
    trails = self.cloudtrail_backend.describe_trails(include)
    if names:
        trails = [
            t for t in trails
            if t.arn in names or (t.trail_name in names and t.account_id == self.current_account and t.region_name == self.region)
        ]
    return json.dumps({"trailList": [t.description(include_region=True) for t in trails]})


def _get_trail_response(self: Any) -> str:
    try:
        return _orig_get_trail(self)
    except TrailNotFoundException:
        name = self._get_param("Name") or ""
        if name.startswith("arn:"):
            for trail in self.cloudtrail_backend.describe_trails(True):
                if trail.arn == name:
                    return json.dumps({"Trail": trail.description(include_region=True)})
        raise


def _install_trail_shadows() -> None:
    ct_models.CloudTrailBackend.describe_trails = _describe_trails
    ct_models.CloudTrailBackend.get_trail_status = _get_trail_status
    ct_responses.CloudTrailResponse.create_trail = _refuse_org_trail(_orig_create_trail)
    ct_responses.CloudTrailResponse.update_trail = _refuse_org_trail(_orig_update_trail)
    ct_responses.CloudTrailResponse.describe_trails = _describe_trails_response
    ct_responses.CloudTrailResponse.get_trail = _get_trail_response
