"""The twin's engine's deletes once the program has ended: the resources it no longer registers and the
replaced ones, in reverse dependency order, antichain by antichain (pulumi/pulumi step_generator.go
ScheduleDeletes; rules.ENGINE_SOURCES["deletes"]); a failed delete keeps its state for the next up."""

from __future__ import annotations

import threading

from .clock import Killed
from .engine_state import FAILURES, Resource, Step


class Deletes:
    """The delete phase after the program has ended: what it no longer registers and what was replaced."""

    def _delete_phase(self) -> None:
        state = self.engine.state
        condemned: list[Resource] = [
            r for u, r in state.items() if u not in self.registered and u not in self.deleted_now
        ]
        condemned += self.pending_deletes
        while condemned:
            # Deleted first: what no other condemned resource depends on (ScheduleDeletes).
            layer = [
                r
                for r in condemned
                if not any(
                    r.urn in other.dependencies or r.urn == other.parent
                    for other in condemned
                    if other is not r and other.urn != r.urn
                )
            ]
            if not layer:
                layer = list(condemned)
            # The layer's deletes all enter the clock before it moves on: which one takes a free slot
            # first then follows their names, not which thread the OS starts first.
            self.engine.sched.expect({"~delete " + r.urn for r in layer})
            threads = [threading.Thread(target=self._delete_step, args=(r,), daemon=True) for r in layer]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if self.failed:
                return
            condemned = [r for r in condemned if not any(r is done for done in layer)]

    def _delete_step(self, resource: Resource) -> None:
        replaced = any(resource is r for r in self.pending_deletes)
        sched = self.engine.sched
        try:
            sched.enter("~delete " + resource.urn)
        except Killed:
            return
        step = Step(resource.urn, resource.name, resource.type, "delete", sched.now)
        try:
            self._acquire()
            try:
                self._delete(resource)
            finally:
                self._release()
            with self.lock:
                if replaced:  # its successor keeps the URN
                    self.deleted_replaced.append(resource)
                else:
                    self.deleted_now.add(resource.urn)
                    self.registered.pop(resource.urn, None)
        except Killed:
            step.error = "killed"
        except FAILURES as exc:
            step.error = str(exc)
            with self.lock:
                self.failed = self.failed or f"{resource.type.split(':')[-1]} {resource.name} (delete): {exc}"
                # Its state stays: the next up deletes it again (a replaced one stays pending).
                if not replaced and resource.urn not in self.registered:
                    self.registered[resource.urn] = resource

        finally:
            step.end = sched.now
            self.steps.append(step)
            if step.error is None:
                self._count_change()
            sched.leave()
