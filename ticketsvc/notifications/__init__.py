"""Alerts for high-urgency tickets: a durable outbox, its delivery, the circuit breaker."""
