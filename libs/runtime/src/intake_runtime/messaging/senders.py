"""Which kind of sender a command topic accepts: the check behind the broker's ACLs.

The broker decides who may write a topic; a service still refuses an envelope whose principal
does not fit the topic it came from, so that a user's claims never act as a service (and a
service never passes for a user on a user topic) even where a deployment's ACLs are too wide.
"""

from intake_contracts import topics
from intake_contracts.envelope import Envelope


def sender_refusal(topic: str, envelope: Envelope) -> str | None:
    """Why the envelope must not be handled when it came from `topic` (a logical name), or
    None when it may. Topics that carry no commands, and command types no topic carries (the
    dispatcher answers those), are not this rule's concern."""
    carried = topics.TOPIC_COMMANDS.get(topic)
    if carried is None or not any(
        envelope.type in types for types in topics.TOPIC_COMMANDS.values()
    ):
        return None
    if envelope.type not in carried:
        return f"{envelope.type} is not accepted on {topic}"
    principal = envelope.principal
    if topic in topics.SERVICE_COMMAND_TOPICS and (principal is None or principal.service is None):
        if principal is not None and envelope.type in topics.CARRY_USER_PRINCIPAL:
            return None  # a service vouching for the user it acts for; only services send here
        return f"a user principal on the service-only topic {topic}"
    if topic in topics.USER_COMMAND_TOPICS and principal is not None and principal.service:
        return f"a service principal ({principal.service}) on the user topic {topic}"
    return None
