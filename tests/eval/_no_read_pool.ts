/**
 * Run without --allow-read by eval_workers_test.ts: the pool starts no
 * worker, and the calling thread still evaluates every user.
 *
 * @module
 */

import { startEvalWorkers } from "../../lib/eval/eval_workers.ts";
import { evaluateRanking } from "../../lib/eval/evaluate.ts";
import { NeuMF } from "../../lib/model/neumf.ts";
import { sampleEvalNegatives } from "../../lib/data/eval_negatives.ts";
import { Prng } from "../../lib/random/prng.ts";

const numUsers = 30;
const numItems = 80;
const trainOffsets = Int32Array.from({ length: numUsers + 1 }, (_, u) => 2 * u);
const trainItems = Int32Array.from({ length: 2 * numUsers }, (_, i) => i % numItems);
const evalItems = Int32Array.from({ length: numUsers }, (_, u) => (u + 40) % numItems);
const negatives = sampleEvalNegatives(
  { numUsers, numItems, trainOffsets, trainItems, evalItems },
  { numEvalNegatives: 20, seed: 1 },
);
const dataset = { numUsers, numItems, evalItems, ...negatives };
const model = new NeuMF({ numUsers, numItems, prng: new Prng(2) });
const pool = startEvalWorkers(model, dataset, { workers: 1 });
const workers = pool.workers;
const result = await pool.evaluate(model);
const serial = evaluateRanking(model, dataset as Parameters<typeof evaluateRanking>[1]);
pool.close();
console.log(JSON.stringify({ workers, same: result.ndcg === serial.ndcg }));
