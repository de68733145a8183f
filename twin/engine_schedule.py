"""When the twin's engine lets a step run: the plan's registrations owed to the clock once what they wait
for is done (sdk/python resource.py prepare_resource, rules.ENGINE_SOURCES["register"]), the parallel
slots (`pulumi up --parallel`), and an up killed after its n-th change."""

from __future__ import annotations


class Scheduling:
    """A deployment's timing: which registrations its plan still owes the clock, at most `parallel`
    steps at once, and the kill after a number of completed changes (an up killed part-way)."""

    def _index_plan(self) -> None:
        """Per planned registration, how many of the steps it waits for are not done yet."""
        self.waiting_on: dict[str, int] = {}
        self.dependents: dict[str, list[str]] = {}
        for urn, planned in self.plan.items():
            if not planned.custom:
                continue
            deps = {d for d in planned.dependencies if d in self.plan and self.plan[d].custom}
            self.waiting_on[urn] = len(deps)
            for d in deps:
                self.dependents.setdefault(d, []).append(urn)
        self.owed_now = {u for u, n in self.waiting_on.items() if n == 0}

    def owed(self) -> set[str]:
        if self.preview or self.failed or self.killed:
            return set()
        with self.lock:
            return set(self.owed_now)

    def _arrived(self, urn: str) -> None:
        with self.lock:
            self.arrived.add(urn)
            self.owed_now.discard(urn)

    def _done(self, urn: str) -> None:
        with self.lock:
            self.done.add(urn)
            for dependent in self.dependents.get(urn, ()):
                self.waiting_on[dependent] -= 1
                if self.waiting_on[dependent] == 0 and dependent not in self.arrived:
                    self.owed_now.add(dependent)

    def _count_change(self) -> None:
        self.completed_changes += 1
        if self.kill_after is not None and self.completed_changes >= self.kill_after and not self.killed:
            self.killed = True
            self.engine.sched.kill()

    # --- parallelism --------------------------------------------------------------------------
    def _acquire(self) -> None:
        sched = self.engine.sched
        while True:
            with self.lock:
                if self.running < self.engine.parallel:
                    self.running += 1
                    return
            sched.sleep(1.0)  # a full engine: try again in a modelled second

    def _release(self) -> None:
        with self.lock:
            self.running -= 1
