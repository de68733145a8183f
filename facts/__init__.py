"""Facts that the stack config, the components and the providers all rely on, each written once.

stack_config refuses at preview what these say cannot work, the components build from them, and the
providers (run by the engine's provider host, which imports this package from the project root)
check against them again. A rule changes here, in one place.
"""
