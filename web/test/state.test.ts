import assert from "node:assert/strict";
import { test } from "node:test";

import { fromServer, isTerminal, type Status, type StatusEvent, transition } from "../src/state.js";

const STATUSES: Status[] = ["queued", "uploading", "paused", "completed", "failed", "cancelled"];
const EVENTS: StatusEvent[] = ["start", "pause", "resume", "complete", "fail", "cancel", "retry"];

test("an upload runs, pauses offline, resumes and completes", () => {
  let status: Status = "queued";
  for (const event of ["start", "pause", "resume", "start", "complete"] as const) {
    const next = transition(status, event);
    assert.ok(next, `${event} from ${status}`);
    status = next;
  }
  assert.equal(status, "completed");
});

test("completed and cancelled are terminal: no event leaves them", () => {
  for (const status of STATUSES.filter(isTerminal)) {
    for (const event of EVENTS) assert.equal(transition(status, event), null, `${event} from ${status}`);
  }
});

test("only a failed upload can be retried, and every live one can be cancelled", () => {
  for (const status of STATUSES) {
    assert.equal(transition(status, "retry") !== null, status === "failed");
    if (!isTerminal(status)) assert.equal(transition(status, "cancel"), "cancelled");
  }
});

test("server statuses map to the page's terminal ones", () => {
  assert.equal(fromServer("COMPLETED"), "completed");
  assert.equal(fromServer("CANCELLED"), "cancelled");
  assert.equal(fromServer("FAILED"), "failed");
  assert.equal(fromServer("UPLOADING"), null);
});
