"""The search service: `uvicorn api.main:app` (configured by the environment, see
`settings.config_from_env`) or `hybridrag serve` (the same settings as options)."""
