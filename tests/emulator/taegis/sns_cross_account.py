"""(ab) SNS topics of another account: policies, and the subscription on the topic's side."""

from __future__ import annotations

import collections
import functools
import re
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from moto.sns import models as sns_models
from moto.sns import responses as sns_responses
from werkzeug.exceptions import HTTPException

from .faults import _query_error
from .policies import _caller_identity, _policy_statements, _signed, policy_verdict
from .iam_enforcement import _AuthError


# ---------------------------------------------------------------------------------------------
# (ab) SNS topics of another account.
# AWS: Subscribe, ListSubscriptionsByTopic and GetTopicAttributes on another account's topic work
# when the topic's policy allows the action to the caller, else 403 AuthorizationError "User:
# CALLER is not authorized to perform: SNS:Subscribe on resource: TOPIC because no
# resource-based policy allows the SNS:Subscribe action".  A subscription lives on the topic (its
# owner's ListSubscriptionsByTopic shows it, Owner the subscriber's account); the subscriber
# (or the topic's owner) may unsubscribe it, and the subscriber's ListSubscriptions lists it.
# moto checked no policy and kept the subscription in the subscriber's account, where the
# topic's owner never saw it (nor did Publish deliver to it).
# ---------------------------------------------------------------------------------------------

_SNS_ARN_ACCOUNT_RE = re.compile(r"^arn:aws[a-z-]*:sns:[^:]*:(\d{12}):")
_SNS_POLICY_ACTIONS = {
    "subscribe": "Subscribe",
    "list_subscriptions_by_topic": "ListSubscriptionsByTopic",
    "get_topic_attributes": "GetTopicAttributes",
}


def _sns_home(backend: Any, arn: Any) -> Any:
    """The SNS backend (same region) of the account that owns the topic or subscription `arn`."""
    match = _SNS_ARN_ACCOUNT_RE.match(str(arn or ""))
    if match is None or match.group(1) == backend.account_id:
        return backend
    return sns_models.sns_backends[match.group(1)][backend.region_name]


def _sns_routed(method: Any) -> Any:
    """A backend call on a topic or subscription ARN, made in the backend of its owner."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        arn = args[0] if args else kwargs.get("topic_arn", kwargs.get("subscription_arn", kwargs.get("arn")))
        home = self if arn in self.subscriptions else _sns_home(self, arn)
        return method(home, *args, **kwargs)

    return wrapper


_orig_sns_subscribe = sns_models.SNSBackend.subscribe


def _sns_subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
    home = _sns_home(self, topic_arn)
    if home is self:
        return _orig_sns_subscribe(self, topic_arn, endpoint, protocol)
    existing = home._find_subscription(topic_arn, endpoint, protocol)
    subscription = _orig_sns_subscribe(home, topic_arn, endpoint, protocol)
    if existing is None:
        # The subscriber's: its Owner, and its endpoint (a function or queue of its account).
        subscription.owner = subscription.account_id = self.account_id
        subscription.attributes["Owner"] = self.account_id
    return subscription


def _sns_list_subscriptions(self: Any, next_token: str | None = None) -> Any:
    # AWS: the requester's subscriptions, those on other accounts' topics included.
    mine: "collections.OrderedDict[str, Any]" = collections.OrderedDict(
        (arn, s) for arn, s in self.subscriptions.items() if getattr(s, "owner", self.account_id) == self.account_id
    )
    for account, regions in list(sns_models.sns_backends.items()):
        other = dict.get(regions, self.region_name) if account != self.account_id else None
        for arn, s in list(getattr(other, "subscriptions", {}).items()):
            if getattr(s, "owner", None) == self.account_id:
                mine[arn] = s
    return self._get_values_nexttoken(mine, next_token)


def _sns_refuse(caller_arn: str, action: str, resource: str, denied: bool) -> HTTPException:
    why = (
        "with an explicit deny in a resource-based policy"
        if denied
        else f"because no resource-based policy allows the SNS:{action} action"
    )
    message = f"User: {caller_arn} is not authorized to perform: SNS:{action} on resource: {resource} {why}"
    headers, body = _query_error("sns", "Sender", "AuthorizationError", _xml_escape(message))
    return _AuthError(403, headers, body)


def _sns_topic_guard(name: str) -> Any:
    action = _SNS_POLICY_ACTIONS[name]
    method = getattr(sns_responses.SNSResponse, name)

    @functools.wraps(method)
    def wrapper(self: Any) -> Any:
        topic_arn = self._get_param("TopicArn")
        match = _SNS_ARN_ACCOUNT_RE.match(str(topic_arn or ""))
        if match and match.group(1) != self.current_account and _signed(self):
            topic = self.backend.get_topic(topic_arn)  # moto's NotFound first
            account, caller_arn, who = _caller_identity(self)
            context = {"aws:principalaccount": account, "aws:principalarn": caller_arn}
            verdict = policy_verdict(_policy_statements(topic.policy), f"sns:{action}", topic_arn, who, context)
            if verdict != "Allow":
                raise _sns_refuse(caller_arn, action, topic_arn, verdict == "Deny")
        return method(self)

    return wrapper


_orig_sns_unsubscribe_response = sns_responses.SNSResponse.unsubscribe


def _sns_unsubscribe_response(self: Any) -> Any:
    # AWS: the subscription's owner or the topic's owner may unsubscribe it.
    arn = self._get_param("SubscriptionArn")
    if _signed(self):
        home = self.backend if arn in self.backend.subscriptions else _sns_home(self.backend, arn)
        subscription = home.subscriptions.get(arn)
        if subscription is not None and self.current_account not in (subscription.owner, subscription.topic.account_id):
            _, caller_arn, _ = _caller_identity(self)
            raise _sns_refuse(caller_arn, "Unsubscribe", arn, False)
    return _orig_sns_unsubscribe_response(self)


def _install_sns_cross_account() -> None:
    backend = sns_models.SNSBackend
    backend.subscribe = _sns_subscribe
    backend.list_subscriptions = _sns_list_subscriptions
    for name in ("unsubscribe", "list_subscriptions_by_topic", "get_subscription_attributes", "set_subscription_attributes"):
        setattr(backend, name, _sns_routed(getattr(backend, name)))
    for name in _SNS_POLICY_ACTIONS:
        setattr(sns_responses.SNSResponse, name, _sns_topic_guard(name))
    sns_responses.SNSResponse.unsubscribe = _sns_unsubscribe_response
