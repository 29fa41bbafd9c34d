"""CloudFormation resource types moto lacks: (a) AWS::SecretsManager::Secret, (t)
AWS::SQS::QueuePolicy and AWS::SNS::TopicPolicy."""

from __future__ import annotations

import json
import secrets as _secrets
import string
import uuid
from typing import Any

from moto.cloudformation import parsing as cfn_parsing
from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends


# ---------------------------------------------------------------------------------------------
# (a) AWS::SecretsManager::Secret in CloudFormation, backed by moto's Secrets Manager backend.
# AWS: Ref and Fn::GetAtt Id return the secret ARN; deleting the stack deletes the secret.
# ---------------------------------------------------------------------------------------------


def _generate_secret_string(spec: dict[str, Any]) -> str:
    """AWS: GenerateSecretString (PasswordLength, Exclude*, SecretStringTemplate/GenerateStringKey)."""
    length = int(spec.get("PasswordLength", 32))
    alphabet = ""
    if str(spec.get("ExcludeLowercase", "false")).lower() != "true":
        alphabet += string.ascii_lowercase
    if str(spec.get("ExcludeUppercase", "false")).lower() != "true":
        alphabet += string.ascii_uppercase
    if str(spec.get("ExcludeNumbers", "false")).lower() != "true":
        alphabet += string.digits
    if str(spec.get("ExcludePunctuation", "false")).lower() != "true":
        alphabet += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    if str(spec.get("IncludeSpace", "false")).lower() == "true":
        alphabet += " "
    excluded = spec.get("ExcludeCharacters", "")
    alphabet = "".join(c for c in alphabet if c not in excluded) or string.ascii_letters
    password = "".join(_secrets.choice(alphabet) for _ in range(length))
    template = spec.get("SecretStringTemplate")
    key = spec.get("GenerateStringKey")
    if template and key:
        doc = json.loads(template)
        doc[key] = password
        return json.dumps(doc)
    return password


def _force_delete_secret(account_id: str, region_name: str, secret_id: str) -> None:
    try:
        secretsmanager_backends[account_id][region_name].delete_secret(
            secret_id=secret_id,
            recovery_window_in_days=None,
            force_delete_without_recovery=True,
        )
    except Exception:  # already gone: nothing to do, as CloudFormation on AWS
        pass


class TaegisSecret(CloudFormationModel):
    # moto's model metaclass files models under the second component of the module name.
    __module__ = "taegis.secretsmanager.models"

    def __init__(self, account_id: str, region_name: str, arn: str, name: str):
        self.account_id = account_id
        self.region_name = region_name
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ["Id"]

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Id":
            return self.arn
        raise UnformattedGetAttTemplateException()

    @staticmethod
    def _secret_string(properties: dict[str, Any]) -> str | None:
        if properties.get("SecretString") is not None:
            return str(properties["SecretString"])
        if properties.get("GenerateSecretString") is not None:
            return _generate_secret_string(properties["GenerateSecretString"])
        return None

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "TaegisSecret":
        properties = cloudformation_json.get("Properties", {}) or {}
        backend = secretsmanager_backends[account_id][region_name]
        created = backend.create_secret(
            name=resource_name,
            secret_string=cls._secret_string(properties),
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        info = json.loads(created) if isinstance(created, str) else created
        return cls(account_id, region_name, info["ARN"], info["Name"])

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "TaegisSecret",
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> "TaegisSecret":
        properties = cloudformation_json.get("Properties", {}) or {}
        if properties.get("Name") and properties["Name"] != original_resource.name:
            # AWS: a new Name means replacement.
            new = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            _force_delete_secret(account_id, region_name, original_resource.arn)
            return new
        backend = secretsmanager_backends[account_id][region_name]
        secret = backend.secrets[original_resource.name]
        current = getattr(secret, "secret_string", None)
        if properties.get("SecretString") is not None and str(properties["SecretString"]) != current:
            backend.update_secret(
                secret_id=original_resource.name,
                secret_string=str(properties["SecretString"]),
                client_request_token=str(uuid.uuid4()),
                kms_key_id=properties.get("KmsKeyId"),
                description=properties.get("Description"),
            )
        else:
            # Metadata only: no new secret version, as on AWS.
            secret.description = properties.get("Description")
            secret.kms_key_id = properties.get("KmsKeyId") or backend.DEFAULT_KMS_KEY_ALIAS
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        _force_delete_secret(account_id, region_name, resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        # AWS: a stack deleting its secret deletes it at once (no recovery window is left to the
        # user, and the name can be reused by the next deploy).
        _force_delete_secret(account_id, region_name, self.name)


def _refresh_model_maps() -> None:
    # moto builds its type map from CloudFormationModel.__subclasses__() behind lru_caches.
    for fn in (
        cfn_parsing.get_model_list,
        cfn_parsing.get_model_map,
        cfn_parsing.get_name_type_map,
    ):
        fn.cache_clear()


def _install_secret_model() -> None:
    _refresh_model_maps()
    assert cfn_parsing.get_model_map()["AWS::SecretsManager::Secret"] is TaegisSecret


# ---------------------------------------------------------------------------------------------
# (t) AWS::SQS::QueuePolicy and AWS::SNS::TopicPolicy in CloudFormation.
# AWS: the PolicyDocument becomes the Policy of every queue (Queues: URLs, what !Ref of a queue
# gives) or topic (Topics: ARNs) listed; an update replaces it and clears it on the ones no
# longer listed; deleting the resource removes it (a queue has no Policy any more, a topic gets
# back the default policy AWS gives a new topic).  Ref and Fn::GetAtt Id are the id the stack
# generates (STACK-LOGICALID-SUFFIX).  moto had neither type: the stack skipped them and the
# policies were never set.  Every step runs under the account's CloudFormation lock (API call
# or background worker); a policy is replaced as a whole, never changed in place.
# ---------------------------------------------------------------------------------------------


class PropertiesValidationFailed(Exception):
    """AWS's schema check of a resource's properties; the text is the whole ResourceStatusReason."""

    def __init__(self, logical_id: str, message: str):
        reason = f"Properties validation failed for resource {logical_id} with message:\n{message}"
        super().__init__(reason)
        self.message = reason
        self._taegis_reason = reason


def _json_type(value: Any) -> str:
    return {dict: "JSONObject", list: "JSONArray", str: "String", bool: "Boolean"}.get(type(value), type(value).__name__)


def _policy_document_text(document: Any, logical_id: str) -> str:
    """PolicyDocument, given as an object or as a string holding one, as JSON text."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise ValueError("Invalid value for the parameter Policy.") from None
    if not isinstance(document, dict):
        raise PropertiesValidationFailed(logical_id, f"#/PolicyDocument: expected type: JSONObject, found: {_json_type(document)}")
    return json.dumps(document)


def _sqs_queue_at(url: str, account_id: str, region_name: str) -> Any:
    """The queue a QueueUrl names, in the stack's account and region."""
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    parts = str(url).rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != account_id:
        raise QueueDoesNotExist()
    return sqs_backends[account_id][region_name].get_queue(parts[-1])


def _set_queue_policy(queue: Any, text: str | None) -> None:
    queue.policy = text  # None: no Policy attribute any more


def _sns_topic_at(arn: str, account_id: str, region_name: str) -> Any:
    """The topic an ARN names, in the stack's account and region."""
    from moto.sns.exceptions import TopicNotFound
    from moto.sns.models import sns_backends

    topic = sns_backends[account_id][region_name].topics.get(str(arn))
    if topic is None:
        raise TopicNotFound
    return topic


def _set_topic_policy(topic: Any, text: str | None) -> None:
    if text is None:  # AWS: back to the policy of a new topic
        topic._policy_json = topic._create_default_topic_policy(topic.sns_backend.region_name, topic.account_id, topic.name)
    else:
        topic.policy = text


class _ResourcePolicyModel:
    """What AWS::SQS::QueuePolicy and AWS::SNS::TopicPolicy share (a mixin: moto's type map
    takes only direct subclasses of CloudFormationModel)."""

    TARGETS = ""  # the property that lists the queues / topics
    find: Any = None  # (target, account_id, region_name) -> queue / topic; raises when missing
    apply: Any = None  # (queue / topic, JSON text or None)

    def __init__(self, account_id: str, region_name: str, policy_id: str, targets: list[str], text: str):
        self.account_id = account_id
        self.region_name = region_name
        self.policy_id = policy_id
        self.targets = targets
        self.text = text

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""  # no name property: moto generates STACK-LOGICALID-SUFFIX, as AWS does

    @property
    def physical_resource_id(self) -> str:
        return self.policy_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ["Id"]

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Id":
            return self.policy_id
        raise UnformattedGetAttTemplateException()

    @classmethod
    def _properties(cls, logical_id: str, cloudformation_json: dict[str, Any]) -> tuple[list[str], str]:
        properties = cloudformation_json.get("Properties") or {}
        for key in (cls.TARGETS, "PolicyDocument"):
            if properties.get(key) is None:
                raise PropertiesValidationFailed(logical_id, f"#: required key [{key}] not found")
        targets = properties[cls.TARGETS]
        if not isinstance(targets, list):
            raise PropertiesValidationFailed(logical_id, f"#/{cls.TARGETS}: expected type: JSONArray, found: {_json_type(targets)}")
        return [str(t) for t in targets], _policy_document_text(properties["PolicyDocument"], logical_id)

    @classmethod
    def _set_all(cls, targets: list[str], text: str, account_id: str, region_name: str) -> None:
        found = [cls.find(t, account_id, region_name) for t in targets]  # all exist, or nothing changes
        for item in found:
            cls.apply(item, text)

    def _clear(self, targets: list[str]) -> None:
        for target in targets:
            try:
                found = type(self).find(target, self.account_id, self.region_name)
            except Exception:  # gone already: nothing to remove
                continue
            type(self).apply(found, None)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        targets, text = cls._properties(kwargs.get("LogicalId") or resource_name, cloudformation_json)
        cls._set_all(targets, text, account_id, region_name)
        return cls(account_id, region_name, resource_name, targets, text)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # AWS: no replacement (same physical id); the targets left out lose the policy.
        logical_id = getattr(original_resource, "logical_resource_id", None) or new_resource_name
        targets, text = cls._properties(logical_id, cloudformation_json)
        cls._set_all(targets, text, account_id, region_name)
        original_resource._clear([t for t in original_resource.targets if t not in targets])
        original_resource.targets, original_resource.text = targets, text
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        pass  # moto calls delete() on the model; the targets are known only there

    def delete(self, account_id: str, region_name: str) -> None:
        self._clear(self.targets)


class TaegisQueuePolicy(_ResourcePolicyModel, CloudFormationModel):
    __module__ = "taegis.sqs.models"  # see TaegisSecret
    TARGETS = "Queues"
    find = staticmethod(_sqs_queue_at)
    apply = staticmethod(_set_queue_policy)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"


class TaegisTopicPolicy(_ResourcePolicyModel, CloudFormationModel):
    __module__ = "taegis.sns.models"
    TARGETS = "Topics"
    find = staticmethod(_sns_topic_at)
    apply = staticmethod(_set_topic_policy)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"


def _install_resource_policy_models() -> None:
    _refresh_model_maps()
    model_map = cfn_parsing.get_model_map()
    assert model_map["AWS::SQS::QueuePolicy"] is TaegisQueuePolicy
    assert model_map["AWS::SNS::TopicPolicy"] is TaegisTopicPolicy
