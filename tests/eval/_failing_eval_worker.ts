/**
 * A broken evaluation worker for tests: on `evaluate` it claims a chunk of
 * users, ranks none of them, and then fails — by an error message, or (with
 * `crash` in its URL's query) by an uncaught exception.
 *
 * @module
 */

/// <reference lib="deno.worker" />

let next: Int32Array;
let chunk = 64;
const crash = new URL(import.meta.url).searchParams.has("crash");

self.onmessage = (event: MessageEvent) => {
  const msg = event.data;
  if (msg.type === "init") {
    ({ next, chunk } = msg);
    return;
  }
  Atomics.add(next, 0, chunk);
  if (crash) throw new Error("the test worker crashes");
  self.postMessage({ error: "the test worker fails" });
};
