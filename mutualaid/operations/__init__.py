"""Running the service: health and readiness probes, Prometheus metrics, log formats and
the response headers of personal pages. Nothing here changes what people see."""
