/** The status of one file in the page, and the only moves allowed between statuses. */

export type Status = "queued" | "uploading" | "paused" | "completed" | "failed" | "cancelled";

export type StatusEvent = "start" | "pause" | "resume" | "complete" | "fail" | "cancel" | "retry";

const MOVES: Readonly<Record<Status, Partial<Record<StatusEvent, Status>>>> = {
  queued: { start: "uploading", pause: "paused", fail: "failed", cancel: "cancelled", complete: "completed" },
  uploading: { pause: "paused", complete: "completed", fail: "failed", cancel: "cancelled" },
  paused: { resume: "queued", start: "uploading", fail: "failed", cancel: "cancelled", complete: "completed" },
  failed: { retry: "queued", cancel: "cancelled" },
  completed: {},
  cancelled: {},
};

/** The status after `event`, or null when the move is not allowed (the caller ignores it). */
export function transition(from: Status, event: StatusEvent): Status | null {
  return MOVES[from][event] ?? null;
}

export function isTerminal(status: Status): boolean {
  return status === "completed" || status === "cancelled";
}

/** The page status matching a server session status, for a session found on resume. */
export function fromServer(status: string): Status | null {
  switch (status) {
    case "COMPLETED":
      return "completed";
    case "CANCELLED":
      return "cancelled";
    case "FAILED":
      return "failed";
    default:
      return null;
  }
}
