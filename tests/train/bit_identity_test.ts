/**
 * Pins the trainer's results before `lib/` is reorganised: every case of
 * `./_bit_identity_cases.ts` (NeuMF, GMF and MLP × adam, lazy_adam and sgd, L2 regularisation,
 * `--resume` with and without spillover, GMF + MLP pretraining of NeuMF; each on the `ts` and
 * `wasm` backends) is run through the real CLI of this checkout (`deno run -A cli.ts trainer …`),
 * and each epoch's HR@10, NDCG@10 and loss from `--metrics_file` must equal, bit for bit, the
 * float64s below.
 *
 * The expected values were produced by commit f387e18 ("bench:accuracy echoes the trainer's bytes
 * as they come …"), with Deno 2.9.6, by:
 *
 * ```
 * git worktree add /tmp/ncf-f387e18 f387e18
 * deno run -A tests/train/_bit_identity_cases.ts /tmp/ncf-f387e18 > /tmp/expected.ts
 * ```
 *
 * (JSON number text round-trips float64 exactly.) `blas` is not pinned here: its bits depend on
 * the OpenBLAS build; `deno run -A bench/compare_commits.ts --base f387e18 --bits` compares it
 * against any commit on one machine. The `wasm` cases are skipped only where WebAssembly SIMD is
 * missing. `--eval_workers` and `--num_workers` are left at their defaults: the metrics are the
 * same bits for any count (checked when these values were made: 0/1 and 1/2 gave the same table).
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  bitIdentityCases,
  type CaseResult,
  pool,
  runCase,
  wasmSimdAvailable,
} from "./_bit_identity_cases.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs at a time: each trainer run also spawns its generator, so two fill two cores. */
const CONCURRENCY = 2;

Deno.test("the trainer's per-epoch HR@10, NDCG@10 and loss are bit-identical to commit f387e18", async (t) => {
  const simd = wasmSimdAvailable();
  const cases = bitIdentityCases(["ts", "wasm"]);
  assert.deepEqual(cases.map((c) => c.name), Object.keys(EXPECTED), "case table vs EXPECTED");
  const runnable = cases.filter((c) => simd || c.backend !== "wasm");
  const outcomes = pool(runnable.map((c) => () => runCase(ROOT, c)), CONCURRENCY);
  try {
    for (const c of cases) {
      const i = runnable.indexOf(c);
      await t.step({
        name: c.name,
        ignore: i < 0,
        // The pool starts the next cases' processes while this step waits.
        sanitizeOps: false,
        sanitizeResources: false,
        fn: async () => {
          const outcome = await outcomes[i];
          if (!outcome.ok) throw outcome.error;
          assert.deepEqual(outcome.value, EXPECTED[c.name]);
        },
      });
    }
  } finally {
    await Promise.all(outcomes);
  }
});

// Produced by commit f387e18 (see the top of this file for the command).
const EXPECTED: Record<string, CaseResult> = {
  "ts NeuMF adam": {
    train: {
      epochs: [
        [1, 0.43, 0.22883072521721728, 0.6089489311513174],
        [2, 0.43, 0.21436495325074495, 0.47646783138218646],
      ],
    },
  },
  "ts NeuMF lazy_adam": {
    train: {
      epochs: [
        [1, 0.41, 0.22394252344426518, 0.614043801671205],
        [2, 0.43, 0.21570748540441534, 0.4785442854298995],
      ],
    },
  },
  "ts NeuMF sgd": {
    train: {
      epochs: [
        [1, 0.26, 0.11617999838598245, 0.54829115602792],
        [2, 0.34, 0.15939878520550313, 0.5010705811554893],
      ],
    },
  },
  "ts GMF adam": {
    train: {
      epochs: [
        [1, 0.36, 0.17667675727050802, 0.6724509199151639],
        [2, 0.35, 0.183253893246223, 0.6285693689638476],
      ],
    },
  },
  "ts GMF lazy_adam": {
    train: {
      epochs: [
        [1, 0.29, 0.14697105821008546, 0.6724961234069037],
        [2, 0.35, 0.18298471467865077, 0.6325103342989006],
      ],
    },
  },
  "ts GMF sgd": {
    train: {
      epochs: [
        [1, 0.17, 0.08077727177479249, 0.5582668901439649],
        [2, 0.17, 0.08077727177479249, 0.5037064363227219],
      ],
    },
  },
  "ts MLP adam": {
    train: {
      epochs: [
        [1, 0.41, 0.21352055051458968, 0.6010434753706787],
        [2, 0.42, 0.21255572294294986, 0.47644671995198956],
      ],
    },
  },
  "ts MLP lazy_adam": {
    train: {
      epochs: [
        [1, 0.42, 0.21651135491149925, 0.6070002176361742],
        [2, 0.42, 0.21300208039366664, 0.47796682904488347],
      ],
    },
  },
  "ts MLP sgd": {
    train: {
      epochs: [
        [1, 0.31, 0.16031091783993873, 0.5403782512584371],
        [2, 0.4, 0.18581354691455013, 0.4995657244616301],
      ],
    },
  },
  "ts NeuMF adam L2": {
    train: {
      epochs: [
        [1, 0.43, 0.2287963894629587, 0.6095378789181136],
        [2, 0.43, 0.21462895375542337, 0.4786267486365558],
      ],
    },
  },
  "ts NeuMF lazy_adam L2": {
    train: {
      epochs: [
        [1, 0.42, 0.21814246924315867, 0.614442359898192],
        [2, 0.43, 0.2149036028854892, 0.48032286689426623],
      ],
    },
  },
  "ts NeuMF sgd L2": {
    train: {
      epochs: [
        [1, 0.26, 0.11617999838598245, 0.5483316465507533],
        [2, 0.34, 0.15939878520550313, 0.5011115094796498],
      ],
    },
  },
  "ts resume": {
    whole: {
      epochs: [
        [1, 0.42, 0.21814246924315867, 0.614442359898192],
        [2, 0.43, 0.2149036028854892, 0.479247754042662],
        [3, 0.43, 0.2226793786797563, 0.4676933095884823],
      ],
    },
    first: {
      epochs: [
        [1, 0.42, 0.21814246924315867, 0.614442359898192],
        [2, 0.43, 0.2149036028854892, 0.48032286689426623],
      ],
    },
    resumed: {
      epochs: [
        [3, 0.43, 0.22206245660589174, 0.4676483633074024],
      ],
      lines: ["resumed from {dir}/model after epoch 2 (cycle 2)"],
    },
  },
  "ts resume nospillover": {
    whole: {
      epochs: [
        [1, 0.42, 0.2179637846776826, 0.6140799453261983],
        [2, 0.43, 0.2182670476038294, 0.4801551718696493],
        [3, 0.43, 0.22252891258112975, 0.4664805617562416],
      ],
    },
    first: {
      epochs: [
        [1, 0.42, 0.2179637846776826, 0.6140799453261983],
        [2, 0.43, 0.2182670476038294, 0.4801551718696493],
      ],
    },
    resumed: {
      epochs: [
        [3, 0.43, 0.22252891258112975, 0.4664805617562416],
      ],
      lines: ["resumed from {dir}/model after epoch 2 (cycle 2)"],
    },
  },
  "ts pretrain": {
    gmf: {
      epochs: [
        [1, 0.45, 0.21765703730644564, 0.6724567514058354],
        [2, 0.36, 0.18535104248613618, 0.628149645033384],
      ],
    },
    mlp: {
      epochs: [
        [1, 0.41, 0.21352055051458968, 0.6015665729853377],
        [2, 0.42, 0.2129939604513384, 0.47828412936562836],
      ],
    },
    neumf: {
      epochs: [
        [1, 0.42, 0.2124113741317324, 0.46997573722773456],
        [2, 0.42, 0.2133984972481695, 0.4617961974765167],
      ],
      lines: ["pretrained NeuMF before training  HR@10 0.4200  NDCG@10 0.2130"],
    },
  },
  "wasm NeuMF adam": {
    train: {
      epochs: [
        [1, 0.43, 0.22883072521721728, 0.608948928818832],
        [2, 0.43, 0.21436495325074495, 0.4764678300485685],
      ],
    },
  },
  "wasm NeuMF lazy_adam": {
    train: {
      epochs: [
        [1, 0.41, 0.22394252344426518, 0.6140438039385395],
        [2, 0.43, 0.21570748540441534, 0.4785442867003831],
      ],
    },
  },
  "wasm NeuMF sgd": {
    train: {
      epochs: [
        [1, 0.26, 0.11617999838598245, 0.5482911569100055],
        [2, 0.34, 0.15939878520550313, 0.5010705814885569],
      ],
    },
  },
  "wasm GMF adam": {
    train: {
      epochs: [
        [1, 0.36, 0.17667675727050802, 0.6724509199142381],
        [2, 0.35, 0.183253893246223, 0.6285693686821012],
      ],
    },
  },
  "wasm GMF lazy_adam": {
    train: {
      epochs: [
        [1, 0.29, 0.14697105821008546, 0.6724961234068164],
        [2, 0.35, 0.18298471467865077, 0.6325103343050892],
      ],
    },
  },
  "wasm GMF sgd": {
    train: {
      epochs: [
        [1, 0.17, 0.08077727177479249, 0.55826689014397],
        [2, 0.17, 0.08077727177479249, 0.5037064363227219],
      ],
    },
  },
  "wasm MLP adam": {
    train: {
      epochs: [
        [1, 0.41, 0.21352055051458968, 0.6010434766476611],
        [2, 0.42, 0.21255572294294986, 0.47644672055258547],
      ],
    },
  },
  "wasm MLP lazy_adam": {
    train: {
      epochs: [
        [1, 0.42, 0.21651135491149925, 0.607000216365352],
        [2, 0.42, 0.21300208039366664, 0.4779668278156482],
      ],
    },
  },
  "wasm MLP sgd": {
    train: {
      epochs: [
        [1, 0.31, 0.16031091783993873, 0.5403782509473027],
        [2, 0.4, 0.18581354691455013, 0.49956572427204193],
      ],
    },
  },
  "wasm NeuMF adam L2": {
    train: {
      epochs: [
        [1, 0.43, 0.2287963894629587, 0.6095378777786327],
        [2, 0.43, 0.21462895375542337, 0.4786267478263677],
      ],
    },
  },
  "wasm NeuMF lazy_adam L2": {
    train: {
      epochs: [
        [1, 0.42, 0.21814246924315867, 0.6144423604649045],
        [2, 0.43, 0.2149036028854892, 0.48032286693763626],
      ],
    },
  },
  "wasm NeuMF sgd L2": {
    train: {
      epochs: [
        [1, 0.26, 0.11617999838598245, 0.5483316470770478],
        [2, 0.34, 0.15939878520550313, 0.5011115098653737],
      ],
    },
  },
  "wasm resume": {
    whole: {
      epochs: [
        [1, 0.42, 0.21814246924315867, 0.6144423604649045],
        [2, 0.43, 0.2149036028854892, 0.4792477540661878],
        [3, 0.43, 0.2226793786797563, 0.46769330963591405],
      ],
    },
    first: {
      epochs: [
        [1, 0.42, 0.21814246924315867, 0.6144423604649045],
        [2, 0.43, 0.2149036028854892, 0.48032286693763626],
      ],
    },
    resumed: {
      epochs: [
        [3, 0.43, 0.22206245660589174, 0.4676483629606562],
      ],
      lines: ["resumed from {dir}/model after epoch 2 (cycle 2)"],
    },
  },
  "wasm resume nospillover": {
    whole: {
      epochs: [
        [1, 0.42, 0.2179637846776826, 0.614079945883555],
        [2, 0.43, 0.2182670476038294, 0.48015517127224877],
        [3, 0.43, 0.22252891258112975, 0.46648056178061903],
      ],
    },
    first: {
      epochs: [
        [1, 0.42, 0.2179637846776826, 0.614079945883555],
        [2, 0.43, 0.2182670476038294, 0.48015517127224877],
      ],
    },
    resumed: {
      epochs: [
        [3, 0.43, 0.22252891258112975, 0.46648056178061903],
      ],
      lines: ["resumed from {dir}/model after epoch 2 (cycle 2)"],
    },
  },
  "wasm pretrain": {
    gmf: {
      epochs: [
        [1, 0.45, 0.21765703730644564, 0.6724567514153665],
        [2, 0.36, 0.18535104248613618, 0.6281496450593005],
      ],
    },
    mlp: {
      epochs: [
        [1, 0.41, 0.21352055051458968, 0.6015665752191978],
        [2, 0.42, 0.2129939604513384, 0.47828413008809095],
      ],
    },
    neumf: {
      epochs: [
        [1, 0.42, 0.2124113741317324, 0.4699757376248753],
        [2, 0.42, 0.2133984972481695, 0.4617961977076904],
      ],
      lines: ["pretrained NeuMF before training  HR@10 0.4200  NDCG@10 0.2130"],
    },
  },
};
