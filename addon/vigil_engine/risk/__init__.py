"""Risk scoring: context, rules and LLM providers, durable job queue, alert policy."""
