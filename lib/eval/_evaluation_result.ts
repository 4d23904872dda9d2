/**
 * The evaluation's options resolved and checked once, and its result made
 * from every user's rank and the coverage marks: shared by the serial
 * evaluation and the worker pool, so both give the same bits.
 *
 * @module
 */

import { EVAL_PROTOCOLS, type EvalProtocol, isEvalProtocol } from "../data/eval_protocol.ts";
import { SettingError } from "../errors.ts";
import {
  checkCutoffs,
  type CutoffMetrics,
  RankingMetrics,
  type RankingSummary,
} from "./metrics.ts";

/** Options of an evaluation (`evaluateRanking`, `EvalWorkerPool.evaluate`). */
export interface EvaluationOptions {
  /**
   * The candidates: `sampled` (default), the user's evaluation negatives;
   * `full`, every item the user has no training interaction with.
   */
  protocol?: EvalProtocol | undefined;
  /** The cutoffs K (default `[10]`); `hr` and `ndcg` are at the first. */
  ks?: readonly number[] | undefined;
  /** Also measure catalogue coverage at each K (default false: it costs a top-K selection per user). */
  coverage?: boolean | undefined;
}

/** HR, NDCG and (when asked) catalogue coverage at one cutoff. */
export interface CutoffResult extends CutoffMetrics {
  /**
   * The share of the catalogue's items in at least one user's top K (of the
   * protocol's candidates; ties to the lower item id); present only when
   * coverage was asked for.
   */
  coverage?: number;
}

/** What an evaluation returns. */
export interface EvaluationResult extends RankingSummary {
  /** The protocol ranked. */
  protocol: EvalProtocol;
  /** Each cutoff's metrics, in the order asked. */
  byK: CutoffResult[];
  /** Wall time of the evaluation. */
  seconds: number;
}

/** {@linkcode EvaluationOptions} with the defaults applied. */
export interface ResolvedEvaluation {
  protocol: EvalProtocol;
  ks: readonly number[];
  coverage: boolean;
}

/**
 * Applies the defaults and checks the options.
 * @throws {SettingError} for `eval_protocol` or `eval_k`.
 */
export function resolveEvaluation(options: EvaluationOptions): ResolvedEvaluation {
  const protocol = options.protocol ?? "sampled";
  if (!isEvalProtocol(protocol)) {
    throw new SettingError(
      "eval_protocol",
      `Cannot evaluate with protocol '${protocol}': expected one of ${EVAL_PROTOCOLS.join(", ")}`,
    );
  }
  return { protocol, ks: checkCutoffs(options.ks ?? [10]), coverage: options.coverage ?? false };
}

/** The coverage marks an evaluation of `numItems` items needs, or null. */
export function coverageMarks(
  resolved: ResolvedEvaluation,
  numItems: number,
  options: { shared?: boolean } = {},
): Uint8Array | null {
  if (!resolved.coverage) return null;
  const length = resolved.ks.length * numItems;
  return new Uint8Array(options.shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length));
}

/** The result of an evaluation from each user's rank (and coverage marks). */
export function evaluationResult(
  resolved: ResolvedEvaluation,
  o: { ranks: Int32Array; covered: Uint8Array | null; numItems: number; started: number },
): EvaluationResult {
  const metrics = new RankingMetrics({ ks: resolved.ks });
  for (const rank of o.ranks) metrics.add(rank);
  const summary = metrics.summary();
  const byK: CutoffResult[] = summary.byK;
  const covered = o.covered;
  if (covered !== null) {
    const n = o.numItems;
    for (let j = 0; j < byK.length; j++) {
      let count = 0;
      for (let i = j * n; i < (j + 1) * n; i++) count += covered[i];
      byK[j].coverage = count / n;
    }
  }
  return {
    ...summary,
    byK,
    protocol: resolved.protocol,
    seconds: (performance.now() - o.started) / 1000,
  };
}

/** Whether the scans may use WebAssembly: not for a model on the `ts` kernel set. */
export function scansUseWasm(scorer: object): boolean {
  const kernels = (scorer as { kernels?: { name?: unknown } }).kernels;
  return kernels?.name !== "ts";
}
