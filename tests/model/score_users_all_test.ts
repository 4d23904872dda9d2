import assert from "node:assert/strict";
import { buildModel, modelConfig } from "../../lib/model/registry.ts";
import type { ModelKind } from "../../lib/model/registry.ts";
import { Prng } from "../../lib/random/prng.ts";
import { overKernelSets } from "../kernels/_kernel_sets.ts";

const USERS = 70; // more than one block of 64 users
const ITEMS = 150; // more than one tile of 128 items

/** |a − b| ≤ 1e-5·max(1, |b|): float32 rounding of a differently ordered sum. */
function assertClose(a: number, b: number, label: string) {
  assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${label}: ${a} vs ${b}`);
}

Deno.test("scoreUsersAll() scores a block of users against every item as scoreUserItems() does", async (t) => {
  const all = Int32Array.from({ length: ITEMS }, (_, i) => i);
  const kinds: ModelKind[] = ["NeuMF", "GMF", "MLP", "MF"];
  for (const kind of kinds) {
    await t.step(kind, async (t) => {
      await overKernelSets(t, (kernels) => {
        const model = buildModel(
          modelConfig(kind, {
            numUsers: USERS,
            numItems: ITEMS,
            numFactors: 8,
            layers: [32, 16, 8],
            mfRegularization: 0,
            mlpRegularization: 0,
            initStddev: 0.5,
          }),
          { kernels, prng: new Prng(3) },
        );
        assert.ok(model.scoreUsersAll !== undefined, `${kind} has scoreUsersAll`);
        model.prepareEval();
        const users = Int32Array.of(0, 5, 69, 64, 1, 33, 2, 3, 4, 66);
        const out = new Float32Array(users.length * ITEMS);
        model.scoreUsersAll(users, { out, count: users.length });
        const one = new Float32Array(ITEMS);
        for (let b = 0; b < users.length; b++) {
          model.scoreUserItems(users[b], all, { out: one });
          for (let i = 0; i < ITEMS; i++) {
            assertClose(out[b * ITEMS + i], one[i], `${kind} user ${users[b]} item ${i}`);
          }
        }
      });
    });
  }
});
