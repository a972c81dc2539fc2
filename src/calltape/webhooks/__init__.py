"""Recording status webhooks: the events, their signature, and the sender that POSTs them from the outbox."""
