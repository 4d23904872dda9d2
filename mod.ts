/**
 * ncf as a library: read and preprocess implicit-feedback data, make
 * negative-sampled training epochs, and run the trainer–generator pipeline.
 * The command-line tool is `cli.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadDataset, summarize } from "./mod.ts";
 * const { dataset, numInteractions } = await loadDataset({
 *   dataset: "synthetic", seed: 1, syntheticUsers: 50, syntheticItems: 300, numEvalNegatives: 99,
 * });
 * assert.equal(summarize(dataset, numInteractions).num_users, 50);
 * ```
 *
 * @module
 */

export { SettingError, UsageError } from "./lib/errors.ts";
export { hashSeed, Prng, shuffle } from "./lib/random/prng.ts";

export {
  boolFlag,
  enumFlag,
  type FlagDef,
  type FlagDefs,
  type FlagValues,
  floatFlag,
  formatFlagfile,
  formatHelp,
  intFlag,
  intListFlag,
  parseFlags,
  stringFlag,
} from "./lib/flags/flags.ts";
export {
  checkTrainerFlags,
  DATA_FLAGS,
  defaultCacheDir,
  DOWNLOAD_FLAGS,
  EVALUATE_FLAGS,
  GENERATOR_FLAGS,
  GENERATOR_SETTINGS,
  type GeneratorSettings,
  INSPECT_FLAGS,
  RECOMMEND_FLAGS,
  RECOMMENDATION_FORMATS,
  type RecommendationFormat,
  SERVE_FLAGS,
  SHOW_FLAGS,
  TRAINER_FLAGS,
  type TrainerFlags,
} from "./lib/flags/specs.ts";
export {
  formatRunFlagfile,
  parseEvaluateArgs,
  parseTrainerArgs,
  RUN_FLAGFILE,
} from "./lib/flags/run_flagfile.ts";

export type { Dataset, DatasetSummary, RawInteractions } from "./lib/data/types.ts";
export { parseRatingsBytes, readRatings } from "./lib/data/read_ratings.ts";
export { readNcfFiles } from "./lib/data/ncf_files.ts";
export { preprocess } from "./lib/data/preprocess.ts";
export { sampleEvalNegatives } from "./lib/data/eval_negatives.ts";
export { generateSynthetic } from "./lib/data/synthetic.ts";
export { loadDataset, summarize } from "./lib/data/load_dataset.ts";
export { DOWNLOAD_DEFAULTS, downloadDataset, formatRetry } from "./lib/data/download.ts";
export { findItemTitlesFile, readItemTitles } from "./lib/data/item_titles.ts";
export { type RawId, RawIdIndex, type RawIds } from "./lib/data/raw_ids.ts";

export { type ExampleColumns, type Positives } from "./lib/pipeline/epoch_kernels.ts";
export {
  allocateEpochBuffers,
  epochLayout,
  inlineRunner,
  makeEpoch,
} from "./lib/pipeline/epoch.ts";
export { startEpochWorkers } from "./lib/pipeline/epoch_workers.ts";
export { decodeShard, encodeShard } from "./lib/pipeline/shards.ts";
export {
  type Batch,
  type DataPipeline,
  GeneratorDiedError,
  startDataPipeline,
  type TrainingCycle,
} from "./lib/pipeline/data_pipeline.ts";
export { runGenerator } from "./lib/pipeline/generator.ts";
export { runTrainer } from "./lib/train/trainer.ts";
export type { TrainingLoop } from "./lib/train/training_loop.ts";
export type {
  Batch as ModelBatch,
  LabeledBatch,
  Model,
  ModelConfig,
  ModelSpec,
  PairBatch,
  SequentialOptions,
  TrainingBatch,
} from "./lib/model/model.ts";
export { MF, type MFConfig, type MFOptions } from "./lib/model/mf.ts";
export {
  buildModel,
  modelConfig,
  type ModelKind,
  MODELS,
  modelSpec,
  rebuildModel,
} from "./lib/model/registry.ts";
export { NeuMF, type NeuMFConfig, type NeuMFOptions } from "./lib/model/neumf.ts";
export {
  binaryCrossEntropy,
  bprLoss,
  isPairwiseLoss,
  lossByName,
  LOSSES,
  type LossKind,
  type PairwiseLoss,
  type PointwiseLoss,
  sigmoid,
  type TrainingLoss,
} from "./lib/model/loss.ts";
export { EVAL_PROTOCOLS, type EvalProtocol } from "./lib/data/eval_protocol.ts";
export { evaluationView } from "./lib/data/validation_split.ts";
export { type Backend, type GemmArgs, tsBackend } from "./lib/kernels/gemm.ts";
export type { Kernels, KernelsName, TensorMemory } from "./lib/kernels/kernels.ts";
export { tsKernels } from "./lib/kernels/ts_kernels.ts";
export { makeWasmKernels } from "./lib/kernels/wasm_kernels.ts";
export { Parameters, type ParameterSpec } from "./lib/kernels/parameters.ts";
export { TouchedRows } from "./lib/kernels/touched_rows.ts";
export { openBlasBackend } from "./lib/kernels/blas.ts";
export { type BackendChoice, BACKENDS, selectKernels } from "./lib/kernels/select_kernels.ts";
export { Adam, type AdamOptions, LazyAdam } from "./lib/optim/adam.ts";
export type { Optimizer, OptimizerState } from "./lib/optim/optimizer.ts";
export {
  buildOptimizer,
  type OptimizerKind,
  type OptimizerOptions,
  OPTIMIZERS,
} from "./lib/optim/optimizers.ts";
export { Sgd, type SgdOptions } from "./lib/optim/sgd.ts";
export { evaluateRanking, type EvaluationResult, type Scorer } from "./lib/eval/evaluate.ts";
export {
  type EvalWorkerOptions,
  type EvalWorkerPool,
  startEvalWorkers,
} from "./lib/eval/eval_workers.ts";
export { popularityScorer } from "./lib/eval/popularity.ts";
export { hitAt, ndcgAt, RankingMetrics, rankOfPositive } from "./lib/eval/metrics.ts";
export {
  loadModelCheckpoint,
  modelFromCheckpoint,
  restoreModelState,
  restoreOptimizerState,
  saveModelCheckpoint,
} from "./lib/train/model_checkpoint.ts";
export { checkOutputPaths } from "./lib/train/output_paths.ts";
export { evaluateCheckpoint } from "./lib/train/evaluate_checkpoint.ts";
export {
  readUsersFile,
  recommend,
  type Recommendation,
  recommendUsers,
  type UserRecommendations,
} from "./lib/serve/recommend.ts";
export { formatRecommendations, recommendationJson } from "./lib/serve/recommendation_format.ts";
export { formatCheckpointSummary, showCheckpoint } from "./lib/serve/show_checkpoint.ts";
export { findRunItemTitles } from "./lib/serve/run_item_titles.ts";
export { topK } from "./lib/serve/top_k.ts";
export { type RunningServer, type ServerOptions, startServer } from "./lib/serve/server.ts";
export {
  SERVE_WORKER_URL,
  type ServeThreadsOptions,
  startServers,
} from "./lib/serve/serve_threads.ts";
export {
  ServedModel,
  type ServedSearchOptions,
  type TrainingCurve,
} from "./lib/serve/served_model.ts";
export { IdSearch } from "./lib/serve/id_search.ts";
export { PageAssets } from "./lib/serve/page_assets.ts";
export { FoldIn, type FoldInOptions } from "./lib/serve/fold_in.ts";
export { EXPORT_FILES, exportModel, type ExportOptions } from "./lib/serve/export_model.ts";
export { ONNX_IR_VERSION, ONNX_OPSET, scoreGraphToOnnx } from "./lib/serve/onnx_export.ts";
export { formatModelJson, MODEL_JSON_VERSION, modelJson } from "./lib/serve/model_json.ts";
export {
  SCORE_OPS,
  scoreFormula,
  type ScoreGraph,
  scoreGraphShapes,
  type ScoreStep,
  type ScoreTensor,
  TENSOR_ROLES,
} from "./lib/model/score_graph.ts";
export { renderTrainingPlot } from "./lib/report/plot_svg.ts";
export { formatDuration, formatProgressLine } from "./lib/report/progress_line.ts";
