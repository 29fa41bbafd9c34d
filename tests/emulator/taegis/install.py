"""install(): every monkeypatch, in the order it is applied."""

from __future__ import annotations

from moto.awslambda import models as lambda_models
from moto.awslambda.policy import Policy as LambdaPolicy
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.custom_model import CustomModel
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses

from .regions import _install_regions
from .lambda_rules import (
    _add_statement,
    _install_lambda_busy,
    _install_lambda_concurrency,
    _set_function_code,
)
from .resource_models import _install_resource_policy_models, _install_secret_model
from .s3_rules import _answer_refusals, _get_bucket_notification, _put_bucket_notification_configuration
from .cfn_templates import (
    _clean_json,
    _install_template_sources,
    _list_imports,
    _parameter_list,
    _require_capabilities,
    _validate_different_update,
)
from .cfn_stacks import _cfn_call_action, _exports, _outputs, _rm_getitem, _stack_resources
from .cfn_create import (
    _create_stack,
    _custom_set_data,
    _mark_creation_complete,
    _parse_and_create_resource,
    _parse_and_update_resource,
    _rm_delete_resource,
)
from .cfn_update import _stack_update
from .cfn_delete import (
    _delete_stack,
    _describe_stack_events,
    _describe_stack_events_page,
    _dto_init,
    _list_stack_resources,
    _process_cfn_response,
)
from .iam_enforcement import _install_iam_enforcement
from .logs import _install_log_pages
from .sts_roles import _install_strict_roles
from .sns_cross_account import _install_sns_cross_account
from .organizations import _install_organizations
from .trail_shadows import _install_trail_shadows
from .account_regions import _install_account_regions
from .throughput import _install_throughput


# CloudFormation's patches, from cfn_templates, cfn_stacks, cfn_create, cfn_update and cfn_delete.
def _install_cloudformation() -> None:
    cfn_parsing.clean_json = _clean_json
    cfn_parsing.parse_and_create_resource = _parse_and_create_resource
    cfn_parsing.parse_and_update_resource = _parse_and_update_resource
    cfn_parsing.ResourceMap.__getitem__ = _rm_getitem
    cfn_parsing.ResourceMap._delete_resource = _rm_delete_resource
    CustomModel.set_data = _custom_set_data
    cfn_models.Stack.parameter_list = property(_parameter_list)
    cfn_models.Stack.outputs = property(_outputs)
    cfn_models.Stack.exports = property(_exports)
    cfn_models.Stack.stack_resources = property(_stack_resources)
    cfn_models.Stack.update = _stack_update
    cfn_models.Stack.mark_creation_complete = _mark_creation_complete
    cfn_models.CloudFormationBackend.create_stack = _create_stack
    cfn_models.CloudFormationBackend.delete_stack = _delete_stack
    cfn_models.CloudFormationBackend.describe_stack_events = _describe_stack_events
    cfn_responses.CloudFormationResponse.call_action = _cfn_call_action
    cfn_responses.CloudFormationResponse.list_imports = _list_imports
    cfn_responses.CloudFormationResponse.list_stack_resources = _list_stack_resources
    cfn_responses.CloudFormationResponse.process_cfn_response = _process_cfn_response
    cfn_responses.CloudFormationResponse._validate_different_update = _validate_different_update
    cfn_responses.StackResourceDTO.__init__ = _dto_init
    cfn_responses.CloudFormationResponse.describe_stack_events = _describe_stack_events_page
    for name in ("create_stack", "update_stack", "create_change_set"):
        method = getattr(cfn_responses.CloudFormationResponse, name)
        setattr(cfn_responses.CloudFormationResponse, name, _require_capabilities(method))
    _install_template_sources()  # the body size is checked before the capabilities


def install() -> None:
    """Every patch, in this order (the order of the single-file emulator).  Call it once, after
    every module is imported: each keeps moto's original methods (`_orig_*`) at import."""
    _install_throughput()
    _install_regions()
    _install_iam_enforcement()
    _install_secret_model()
    _install_resource_policy_models()
    _install_lambda_concurrency()
    _install_lambda_busy()
    _install_log_pages()
    _install_strict_roles()
    _install_sns_cross_account()
    _install_organizations()
    _install_trail_shadows()
    _install_account_regions()
    LambdaPolicy.add_statement = _add_statement
    lambda_models.LambdaFunction._set_function_code = _set_function_code
    s3_responses.S3Response.get_bucket_notification = _get_bucket_notification
    s3_models.S3Backend.put_bucket_notification_configuration = _put_bucket_notification_configuration
    s3_responses.S3Response._bucket_response = _answer_refusals(s3_responses.S3Response._bucket_response)
    s3_responses.S3Response._key_response = _answer_refusals(s3_responses.S3Response._key_response)
    _install_cloudformation()
