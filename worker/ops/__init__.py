"""What operators look at: Prometheus metrics, /healthz, logging set-up."""
