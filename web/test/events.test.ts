import assert from "node:assert/strict";
import { test } from "node:test";

import { Emitter } from "../src/events.js";

test("listeners hear their event only, until removed; one that throws stops no other", () => {
  const thrown: unknown[] = [];
  const emitter = new Emitter<{ a: number; b: string }>((error) => thrown.push(error));
  const heard: string[] = [];
  emitter.on("a", () => {
    throw new Error("host bug");
  });
  const off = emitter.on("a", (n) => heard.push(`a${n}`));
  emitter.on("b", (s) => heard.push(`b${s}`));
  emitter.emit("a", 1);
  emitter.emit("b", "x");
  off();
  emitter.emit("a", 2);
  assert.deepEqual(heard, ["a1", "bx"]);
  assert.equal((thrown[0] as Error).message, "host bug");
});
