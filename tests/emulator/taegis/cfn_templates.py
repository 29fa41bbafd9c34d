"""CloudFormation templates and API refusals: (d) !If/NoValue in lists, (e) NoEcho, (f) ListImports
and (h) no-op updates, (o) the inline template limit and TemplateURL, (r) capabilities."""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.core.responses import ActionResult
from moto.s3 import models as s3_models
from moto.s3.exceptions import MissingBucket


# ---------------------------------------------------------------------------------------------
# (d) `!If [cond, x, !Ref AWS::NoValue]` inside a list.
# AWS: the element is removed from the list instead of leaving a null.
# ---------------------------------------------------------------------------------------------

_orig_clean_json = cfn_parsing.clean_json


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    result = _orig_clean_json(resource_json, resources_map)
    if isinstance(resource_json, list) and isinstance(result, list):
        # Only intrinsic functions (dicts) can turn into AWS::NoValue; keep literal nulls.
        result = [r for r, src in zip(result, resource_json) if not (r is None and isinstance(src, dict))]
    return result


# ---------------------------------------------------------------------------------------------
# (e) NoEcho parameters.
# AWS: DescribeStacks shows NoEcho parameter values as '****' (moto compares values with keys).
# ---------------------------------------------------------------------------------------------


def _parameter_list(self: Any) -> list[dict[str, Any]]:
    slots = (self.template_dict or {}).get("Parameters") or {}
    resolved = getattr(self.resource_map, "resolved_parameters", {})
    result = []
    for key in list(resolved):
        slot = slots.get(key) or {}
        if key in (self.parameters or {}):
            value = self.parameters[key]
        else:
            value = slot.get("Default")
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        no_echo = str(slot.get("NoEcho", "false")).lower() == "true"
        entry = {"ParameterKey": key, "ParameterValue": "****" if no_echo else (None if value is None else str(value))}
        if str(slot.get("Type", "")).startswith("AWS::SSM::Parameter::") and not no_echo:
            rv = resolved[key]
            entry["ResolvedValue"] = ",".join(rv) if isinstance(rv, list) else str(rv)
        result.append(entry)
    return result


# ---------------------------------------------------------------------------------------------
# (f) ListImports, (h) delete of an imported export, (h) no-op UpdateStack.
# AWS: ListImports names the stacks importing an export; DeleteStack of a stack whose export
# is imported leaves the stack in place with StackStatusReason "Export X cannot be deleted as
# it is in use by Y" (DeleteStack itself answers 200, the refusal shows in the stack and its
# events); UpdateStack with nothing to change fails "No updates are to be performed.".
# ---------------------------------------------------------------------------------------------


def _import_value_nodes(node: Any) -> list[Any]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::ImportValue":
                found.append(value)
            else:
                found.extend(_import_value_nodes(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_import_value_nodes(item))
    return found


def _stack_imports(stack: Any) -> set[str]:
    if getattr(stack, "_taegis_dead", False) or stack.status in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS"):
        return set()
    names = set()
    for node in _import_value_nodes(stack.template_dict or {}):
        if isinstance(node, str):
            names.add(node)
            continue
        try:
            value = _clean_json(node, stack.resource_map)
        except Exception:
            continue
        if isinstance(value, str):
            names.add(value)
    return names


def importing_stacks(backend: Any, export_name: str, exclude_stack_id: str | None = None) -> list[str]:
    return [
        s.name
        for s in list(backend.stacks.values())
        if s.stack_id != exclude_stack_id and export_name in _stack_imports(s)
    ]


def _list_imports(self: Any) -> ActionResult:
    export_name = self._get_param("ExportName")
    names = importing_stacks(self.cloudformation_backend, export_name)
    if not names:
        raise ValidationError(message=f"Export '{export_name}' is not imported by any stack.")
    return ActionResult({"Imports": names})


def _effective_parameters(template_dict: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    slots = (template_dict or {}).get("Parameters") or {}
    result = {}
    for key, slot in slots.items():
        value = given[key] if key in given else (slot or {}).get("Default")
        result[key] = ",".join(map(str, value)) if isinstance(value, list) else (None if value is None else str(value))
    return result


def _validate_different_update(self: Any, incoming_params: Any, stack_body: Any, old_stack: Any) -> None:
    if self._get_action() != "UpdateStack":
        return  # CreateChangeSet: moto marks an empty change set FAILED, as AWS does
    if not stack_body:
        return
    try:
        new_template = cfn_models.Stack.parse_template(stack_body)
    except Exception:
        return
    try:
        # moto fills in the stack's template_dict (e.g. "Properties": {}): compare the texts' parses.
        old_template = cfn_models.Stack.parse_template(old_stack.template)
    except Exception:
        old_template = old_stack.template_dict
    if new_template != old_template:
        return
    given = {}
    for p in incoming_params or []:
        if p.get("UsePreviousValue"):
            if p["ParameterKey"] in (old_stack.parameters or {}):
                given[p["ParameterKey"]] = old_stack.parameters[p["ParameterKey"]]
        elif "ParameterValue" in p:
            given[p["ParameterKey"]] = p["ParameterValue"]
    old = _effective_parameters(old_stack.template_dict, old_stack.parameters or {})
    new = _effective_parameters(new_template, given)
    if old != new:
        return
    tags = {t["Key"]: t["Value"] for t in (self._get_param("Tags", []) or [])}
    if tags and tags != (old_stack.tags or {}):
        return
    raise ValidationError(old_stack.name, message="No updates are to be performed.")


# ---------------------------------------------------------------------------------------------
# (o) Inline template limit and TemplateURL.
# AWS: a TemplateBody over 51,200 bytes is refused (400 ValidationError "1 validation error
# detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less
# than or equal to 51200"); a TemplateURL must name an object in S3 (virtual-hosted or path
# style, with or without the region) in a bucket of the stack's region, else ValidationError
# with S3's own error.  moto took any body, read any host's first label as a bucket name, took a
# bucket of any region, and answered a missing object with a 500.
# ---------------------------------------------------------------------------------------------

MAX_TEMPLATE_BODY = 51_200
_TEMPLATE_BODY_ACTIONS = ("create_stack", "update_stack", "create_change_set", "validate_template", "get_template_summary", "estimate_template_cost")
_S3_HOST_RE = re.compile(r"^(?:(?P<bucket>.+)\.)?s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$")
_S3_MORE_INFO = "\nFor more information check http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"
S3_ACCESS_DENIED = "S3 error: Access Denied" + _S3_MORE_INFO
S3_NO_SUCH_BUCKET = "S3 error: The specified bucket does not exist" + _S3_MORE_INFO
S3_WRONG_ENDPOINT = (
    "S3 error: The bucket you are attempting to access must be addressed using the specified endpoint. "
    "Please send all future requests to this endpoint." + _S3_MORE_INFO
)
UNSUPPORTED_TEMPLATE_URL = "TemplateURL must be a supported URL."


def _check_template_body(self: Any) -> None:
    body = self._get_param("TemplateBody")
    if isinstance(body, str) and len(body.encode("utf-8")) > MAX_TEMPLATE_BODY:
        raise ValidationError(
            message="1 validation error detected: Value at 'templateBody' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_TEMPLATE_BODY}"
        )


def _limit_template_body(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any) -> Any:
        _check_template_body(self)
        return method(self)

    return wrapper


def _parse_template_url(url: str) -> tuple[str, str, str | None]:
    """(bucket, key, region named by the host or None) of an S3 object URL."""
    parts = urlsplit(url or "")
    match = _S3_HOST_RE.match((parts.hostname or "").lower())
    if parts.scheme not in ("https", "http") or not match:
        raise ValidationError(message=UNSUPPORTED_TEMPLATE_URL)
    path = unquote(parts.path)
    if match.group("bucket"):
        bucket, key = match.group("bucket"), path[1:]
    else:
        bucket, _, key = path[1:].partition("/")
    if not bucket or not key:
        raise ValidationError(message=UNSUPPORTED_TEMPLATE_URL)
    region = match.group("region")
    return bucket, key, ("us-east-1" if region == "external-1" else region)


def _template_from_url(self: Any, template_url: str) -> str:
    bucket_name, key_name, url_region = _parse_template_url(template_url)
    backend = s3_models.s3_backends[self.current_account][self.partition]
    try:
        bucket = backend.get_bucket(bucket_name)
    except MissingBucket:
        raise ValidationError(message=S3_NO_SUCH_BUCKET)
    except Exception:  # another account's bucket
        raise ValidationError(message=S3_ACCESS_DENIED)
    if bucket.account_id != self.current_account:
        raise ValidationError(message=S3_ACCESS_DENIED)
    if bucket.region_name != self.region or (url_region and url_region != bucket.region_name):
        raise ValidationError(message=S3_WRONG_ENDPOINT)
    try:
        key = backend.get_object(bucket_name, key_name)
    except Exception:
        key = None
    if key is None or not hasattr(key, "value"):
        raise ValidationError(message=S3_ACCESS_DENIED)  # CloudFormation's read: no ListBucket
    try:
        return key.value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(message="Template format error: unsupported structure.")


def _install_template_sources() -> None:
    for name in _TEMPLATE_BODY_ACTIONS:
        method = getattr(cfn_responses.CloudFormationResponse, name, None)
        if method is not None:  # moto has no EstimateTemplateCost
            setattr(cfn_responses.CloudFormationResponse, name, _limit_template_body(method))
    cfn_responses.CloudFormationResponse._get_stack_from_s3_url = _template_from_url


# ---------------------------------------------------------------------------------------------
# (r) Capabilities.
# AWS: CreateStack, UpdateStack and CreateChangeSet of a template with IAM resources need
# CAPABILITY_IAM (or CAPABILITY_NAMED_IAM); one that names an IAM resource needs
# CAPABILITY_NAMED_IAM: 400 InsufficientCapabilitiesException "Requires capabilities :
# [CAPABILITY_IAM]" / "[CAPABILITY_NAMED_IAM]".  moto took any template without capabilities.
# ---------------------------------------------------------------------------------------------

# The resource types AWS documents as needing a capability, and the property that names each.
_IAM_CAPABILITY_TYPES = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"

    def __init__(self, capability: str):
        super().__init__(f"Requires capabilities : [{capability}]")


def required_capability(template_dict: Any) -> str | None:
    """CAPABILITY_NAMED_IAM, CAPABILITY_IAM or None for a parsed template."""
    needed = None
    resources = (template_dict or {}).get("Resources") if isinstance(template_dict, dict) else None
    for resource in (resources or {}).values():
        rtype = (resource or {}).get("Type") if isinstance(resource, dict) else None
        if rtype not in _IAM_CAPABILITY_TYPES:
            continue
        name_property, properties = _IAM_CAPABILITY_TYPES[rtype], resource.get("Properties")
        if name_property and isinstance(properties, dict) and name_property in properties:
            return "CAPABILITY_NAMED_IAM"
        needed = "CAPABILITY_IAM"
    return needed


def _requested_template(self: Any) -> Any:
    """The template a create/update/change-set call asks for, parsed (None when unreadable:
    the call itself then answers)."""
    body = self._get_param("TemplateBody")
    if self._get_param("TemplateURL"):
        body = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
    elif not body and self._get_bool_param("UsePreviousTemplate", False):
        try:
            body = self.cloudformation_backend.get_stack(self._get_param("StackName")).template
        except Exception:
            return None
    try:
        return cfn_models.Stack.parse_template(body) if body else None
    except Exception:
        return None


def _check_capabilities(self: Any) -> None:
    needed = required_capability(_requested_template(self))
    given = set(self._get_param("Capabilities", []) or [])
    if needed == "CAPABILITY_NAMED_IAM" and needed not in given:
        raise InsufficientCapabilities(needed)
    if needed == "CAPABILITY_IAM" and not given & {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}:
        raise InsufficientCapabilities(needed)


def _require_capabilities(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any) -> Any:
        _check_capabilities(self)
        return method(self)

    return wrapper
