"""The engine's side of Pulumi's dynamic-provider host: `python -m pulumi.dynamic` started as the engine
starts it, and its gRPC protocol spoken as the engine speaks it."""
