"""The floor's dynamic provider: creates, and does nothing else. In a module of its own so that the
SDK pickles it by reference (about 100 characters), as it does the program's providers; defined in
the replay's `__main__` it was pickled by value (over 800), a cost the program does not pay."""

import pulumi.dynamic


class NoopProvider(pulumi.dynamic.ResourceProvider):
    def create(self, props):
        return pulumi.dynamic.CreateResult("noop", props)
