-- Inbox: one row per handled command, holding the reply a redelivery gets again.
CREATE TABLE inbox (
    message_id   uuid PRIMARY KEY,
    command_type text NOT NULL,
    reply        jsonb,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- Outbox: events written in the state change's transaction, relayed to Kafka afterwards.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    topic        text NOT NULL,
    key          text NOT NULL,
    envelope     jsonb NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',  -- W3C trace context of the writing request
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
