"""The service's entry point for ASGI servers: `uvicorn api.main:app`."""
