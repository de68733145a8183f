"""The oldest Pulumi CLI this program works with: the program refuses an older engine at preview
(stack_config/engine.py) and the providers name it when the stack config does not reach them."""

# The first Pulumi CLI that hands the stack config to a dynamic provider's configure(); older ones
# send nothing, so the providers would find no primaryPassword.
MIN_PULUMI_CLI = "3.139.0"
