import assert from "node:assert/strict";
import { test } from "node:test";

import { scopeOf, tokenClaims } from "../src/scope.js";

const jwt = (claims: object): string =>
  `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.signature`;

test("the scope is the token's tenant and user, and differs when either differs", () => {
  const alice = scopeOf(jwt({ tenant_id: "acme", sub: "alice" }));
  assert.equal(alice, '["acme","alice"]');
  assert.equal(scopeOf(jwt({ tenant_id: "acme", sub: "alice", exp: 1 })), alice);
  assert.notEqual(scopeOf(jwt({ tenant_id: "acme", sub: "bob" })), alice);
  assert.notEqual(scopeOf(jwt({ tenant_id: "other", sub: "alice" })), alice);
});

test("names that could run together stay apart", () => {
  assert.notEqual(scopeOf(jwt({ tenant_id: "a/b", sub: "c" })), scopeOf(jwt({ tenant_id: "a", sub: "b/c" })));
});

test("no scope without both claims, and none from an unreadable token", () => {
  assert.equal(scopeOf(jwt({ tenant_id: "acme" })), null);
  assert.equal(scopeOf(jwt({ sub: "alice" })), null);
  assert.equal(scopeOf(jwt({ tenant_id: "", sub: "alice" })), null);
  assert.equal(scopeOf(jwt({ tenant_id: 7, sub: "alice" })), null);
  assert.equal(scopeOf("not-a-jwt"), null);
  assert.equal(scopeOf("a.%%%.c"), null);
  assert.equal(tokenClaims(jwt(["a"]))?.sub, undefined);
});

test("claims with non-ASCII text decode as UTF-8", () => {
  assert.equal(tokenClaims(jwt({ sub: "zoë", tenant_id: "t" }))?.sub, "zoë");
});
