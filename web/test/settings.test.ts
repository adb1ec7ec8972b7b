import assert from "node:assert/strict";
import { test } from "node:test";

import { MAX_PERSIST_LIMIT } from "../src/uploader.js";
import { persistLimit } from "../page/settings.js";

test("persistLimit is honoured against a local gateway only", () => {
  assert.equal(persistLimit("?persistLimit=1048576", "local"), 1048576);
  assert.equal(persistLimit("?persistLimit=1048576", "production"), undefined);
});

test("persistLimit never passes its ceiling and ignores what is not a size", () => {
  assert.equal(persistLimit("?persistLimit=1e15", "local"), MAX_PERSIST_LIMIT);
  assert.equal(persistLimit("?persistLimit=Infinity", "local"), undefined);
  assert.equal(persistLimit("?persistLimit=-5", "local"), undefined);
  assert.equal(persistLimit("?persistLimit=abc", "local"), undefined);
  assert.equal(persistLimit("?persistLimit=", "local"), undefined);
  assert.equal(persistLimit("", "local"), undefined);
});
