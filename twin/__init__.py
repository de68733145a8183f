"""A twin of `pulumi up`: the real program under Pulumi's mocks, the engine's steps played as the
engine plays them, on a simulated AWS and the Bitbucket emulator, in modelled time (README, "Operating
a farm"; `venv/bin/python -m twin BEFORE.yaml AFTER.yaml`)."""
