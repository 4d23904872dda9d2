/**
 * `ncf serve`: a trained model's recommendations over HTTP, on `Deno.serve`,
 * and a page at `/` that draws its learning curves and queries it.
 *
 * | route | request | response |
 * | --- | --- | --- |
 * | `GET /v1/users/{id}/recommendations?k=10&exclude_seen=true` | | `{"user", "recommendations": [{"item", "score", "title"?}]}` (as `ncf recommend`) |
 * | `GET /v1/users/{id}` | | `{"user", "items": [{"item", "title"?}], "held_out": {"item", "title"?} \| null}`: its training items |
 * | `GET /v1/users?query=&offset=0&limit=20` | | `{"total", "users": [{"user", "items"}]}`: ids containing the text (all when blank) |
 * | `GET /v1/items?query=&offset=0&limit=20` | | `{"total", "items": [{"item", "title"?}]}`: id or title containing the text, most popular first |
 * | `POST /v1/recommendations` | `{"items": [ids], "k"?: 10}` | `{"recommendations": […]}`: a new user folded in, the posted items left out |
 * | `POST /v1/scores` | `{"user": id, "items": [ids]}` | `{"user", "scores": [{"item", "score"}]}` in the order posted |
 * | `GET /v1/items/{id}/similar?k=10` | | `{"item", "similar": [{"item", "score", "title"?}]}` (score = cosine) |
 * | `GET /v1/training` | | `{"epoch", "model", "dataset", "protocol", "train_epochs", "finished", "history": [EvalRecord]}` |
 * | `GET /healthz` | | `{"epoch", "checkpoint", "thread"?}` |
 * | `GET /metrics` | | Prometheus text |
 * | `GET /?user=196&items=50,181` | | the page (HTML); its query is the page's state |
 * | `GET /assets/{file}` | | the page's scripts and styles (`ETag`, 304 on `If-None-Match`) |
 *
 * Ids are the data set's (integers or strings, as `ncf recommend` prints
 * them); scores are probabilities. Errors are `{"error": "..."}`: 400 for
 * malformed input (bad JSON, unknown fields or parameters, k outside
 * 1..1000, ids neither strings nor integers), 404 for an unknown user, item,
 * asset or route, 405 for a wrong method (with `Allow`), 413 for a body above
 * 1 MiB; 500 only for the server's own failure, without its details; 503
 * while it shuts down. Search text is matched case-insensitively; `limit`
 * is 1..1000, `offset` 0 or more.
 *
 * The checkpoint file is polled; a new one is loaded fully, then swapped in
 * for the requests that follow (those under way finish on the old one). A
 * checkpoint that fails to load leaves the old model served, with a warning.
 *
 * @module
 */

import { join } from "node:path";
import type { BackendChoice } from "../flags/specs.ts";
import type { RawId } from "../data/raw_ids.ts";
import { CHECKPOINT_FILE } from "../train/checkpoint_file.ts";
import {
  ApiError,
  echoInput,
  MAX_K,
  parseBoolean,
  parseId,
  parseItems,
  parseK,
  queryParameters,
  readJsonBody,
} from "./api_request.ts";
import { watchFile } from "./checkpoint_watcher.ts";
import { PageAssets } from "./page_assets.ts";
import { type ItemTitles, recommendationJson } from "./recommendation_format.ts";
import type { Recommendation } from "./recommend.ts";
import { ServedModel } from "./served_model.ts";
import { ServeMetrics } from "./serve_metrics.ts";

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** Interface to listen on (default "127.0.0.1"). */
  hostname?: string | undefined;
  /** Port (default 8080; 0 picks a free one). */
  port?: number | undefined;
  /** Kernel set for scoring (default "auto"). */
  backend?: BackendChoice | undefined;
  /** Item titles by the text of the item id, added to recommended items. */
  titles?: ItemTitles | undefined;
  /**
   * Share the port with other servers of this machine that set it too, the
   * kernel spreading connections among them (Linux `SO_REUSEPORT`; Deno
   * needs `--unstable-net`). Default false.
   */
  reusePort?: boolean | undefined;
  /** This server's index among the threads sharing its port (shown by `/healthz` when set). */
  thread?: number | undefined;
  /** Closes the server gracefully when aborted. */
  signal?: AbortSignal | undefined;
  /** Receives warnings: a new checkpoint that failed to load, a request that failed inside. */
  onWarning?: ((message: string) => void) | undefined;
  /** Milliseconds between polls of the checkpoint file (default 500). */
  reloadIntervalMs?: number | undefined;
}

/** A running server. */
export interface RunningServer {
  /** Where it listens, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  /**
   * Finishes the requests under way (answering 503 to new ones meanwhile),
   * then stops listening and watching.
   */
  close(): Promise<void>;
  /** Resolves once the server is closed (by `close()` or the signal). */
  finished: Promise<void>;
}

/**
 * Loads the model of `modelDir` and serves it until closed.
 *
 * @throws {SettingError} naming "model_dir" when `modelDir` holds no
 *   checkpoint; `Deno.errors.NotFound` when a file of the page is missing
 *   (see `PageAssets.load`); what `Deno.serve` throws when the port is taken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "./server.ts";
 * await assert.rejects(() => startServer("/nonexistent/model", { port: 0 }), /Cannot load a model/);
 * ```
 */
export async function startServer(
  modelDir: string,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const backend = options.backend;
  let served = await ServedModel.load(modelDir, { backend, setting: "model_dir" });
  const assets = await PageAssets.load();
  const metrics = new ServeMetrics();
  metrics.setModel(served);
  const warn = options.onWarning ?? (() => {});
  const checkpointPath = join(served.checkpoint.dir, CHECKPOINT_FILE);
  const watcher = await watchFile(checkpointPath, {
    intervalMs: options.reloadIntervalMs,
    onChange: async () => {
      try {
        const next = await ServedModel.load(served.checkpoint.dir, { backend });
        served = next;
        metrics.setModel(next);
        metrics.countReload(true);
      } catch (e) {
        metrics.countReload(false);
        warn(
          `Cannot reload the model from ${checkpointPath}: ${
            e instanceof Error ? e.message : String(e)
          }; still serving epoch ${served.epoch}`,
        );
      }
    },
  });
  const context = {
    model: () => served,
    assets,
    titles: options.titles,
    metrics,
    thread: options.thread,
    warn,
  };
  // Requests under way: close() lets them finish (reading their bodies
  // included) before shutting the listener, and answers 503 to later ones.
  let inFlight = 0;
  let drained: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  const handler = async (request: Request) => {
    if (closing !== undefined) {
      return _error(503, "Cannot answer the request: the server is shutting down", {
        connection: "close",
      });
    }
    inFlight++;
    try {
      return await _handle(request, context);
    } finally {
      if (--inFlight === 0) drained?.();
    }
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 8080,
      ...(options.reusePort === true ? { reusePort: true } : {}),
      onListen: () => {},
    }, handler);
  } catch (e) {
    await watcher.stop();
    throw e;
  }
  const close = () =>
    closing ??= (async () => {
      options.signal?.removeEventListener("abort", onAbort);
      if (inFlight > 0) await new Promise<void>((resolve) => drained = resolve);
      await Promise.all([server.shutdown(), watcher.stop()]);
    })();
  const onAbort = () => void close();
  if (options.signal?.aborted) await close();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${port}/`,
    close,
    finished: server.finished.then(() => closing),
  };
}

/** What a request handler reads. */
interface _Context {
  model(): ServedModel;
  assets: PageAssets;
  titles: ItemTitles | undefined;
  metrics: ServeMetrics;
  thread: number | undefined;
  warn(message: string): void;
}

/** One route: a path pattern, its method, and the handler of its path parameter. */
interface _Route {
  method: "GET" | "POST";
  /** The route's name in metrics. */
  name: string;
  pattern: RegExp;
  handle(
    request: Request,
    url: URL,
    param: string,
    context: _Context,
  ): Promise<Response> | Response;
}

const _ROUTES: _Route[] = [
  {
    method: "GET",
    name: "/v1/users/{id}/recommendations",
    pattern: /^\/v1\/users\/([^/]+)\/recommendations$/,
    handle(_request, url, param, context) {
      const query = queryParameters(url.searchParams, ["k", "exclude_seen"]);
      const k = parseK(query.get("k"), 10);
      const excludeSeen = parseBoolean("exclude_seen", query.get("exclude_seen"), true);
      const model = context.model();
      const u = _user(model, param);
      const recommendations = model.recommend(u, k, { includeSeen: !excludeSeen });
      return _json(recommendationJson({ user: model.userId(u), recommendations }, context));
    },
  },
  {
    method: "GET",
    name: "/v1/users/{id}",
    pattern: /^\/v1\/users\/([^/]+)$/,
    handle(_request, url, param, context) {
      queryParameters(url.searchParams, []);
      const model = context.model();
      const u = _user(model, param);
      const heldOut = model.heldOutItem(u);
      return _json({
        user: model.userId(u),
        items: Array.from(model.userItems(u), (i) => _itemJson(model, i, context.titles)),
        held_out: heldOut < 0 ? null : _itemJson(model, heldOut, context.titles),
      });
    },
  },
  {
    method: "GET",
    name: "/v1/users",
    pattern: /^\/v1\/users$/,
    handle(_request, url, _param, context) {
      const query = queryParameters(url.searchParams, ["query", "offset", "limit"]);
      const model = context.model();
      const { total, found } = model.searchUsers(query.get("query") ?? "", _page(query));
      return _json({
        total,
        users: Array.from(found, (u) => ({
          user: model.userId(u),
          items: model.userItems(u).length,
        })),
      });
    },
  },
  {
    method: "GET",
    name: "/v1/items",
    pattern: /^\/v1\/items$/,
    handle(_request, url, _param, context) {
      const query = queryParameters(url.searchParams, ["query", "offset", "limit"]);
      const model = context.model();
      const { total, found } = model.searchItems(query.get("query") ?? "", {
        ..._page(query),
        titles: context.titles,
      });
      return _json({
        total,
        items: Array.from(found, (i) => _itemJson(model, i, context.titles)),
      });
    },
  },
  {
    method: "POST",
    name: "/v1/recommendations",
    pattern: /^\/v1\/recommendations$/,
    async handle(request, url, _param, context) {
      queryParameters(url.searchParams, []);
      const body = await readJsonBody(request, { allowed: ["items", "k"], required: ["items"] });
      const items = parseItems(body.items);
      const k = parseK(body.k, 10);
      const model = context.model();
      const dense = Int32Array.from(items, (id) => _item(model, id));
      const recommendations = model.foldIn(dense, k);
      return _json({ recommendations: _withTitles(recommendations, context.titles) });
    },
  },
  {
    method: "POST",
    name: "/v1/scores",
    pattern: /^\/v1\/scores$/,
    async handle(request, url, _param, context) {
      queryParameters(url.searchParams, []);
      const body = await readJsonBody(request, {
        allowed: ["user", "items"],
        required: ["user", "items"],
      });
      const user = parseId(body.user, "user");
      const items = parseItems(body.items);
      const model = context.model();
      const u = _user(model, user);
      const dense = Int32Array.from(items, (id) => _item(model, id));
      const scores = model.scores(u, dense);
      return _json({
        user: model.userId(u),
        scores: Array.from(dense, (i, n) => ({ item: model.itemId(i), score: scores[n] })),
      });
    },
  },
  {
    method: "GET",
    name: "/v1/items/{id}/similar",
    pattern: /^\/v1\/items\/([^/]+)\/similar$/,
    handle(_request, url, param, context) {
      const query = queryParameters(url.searchParams, ["k"]);
      const k = parseK(query.get("k"), 10);
      const model = context.model();
      const i = _item(model, param);
      return _json({
        item: model.itemId(i),
        similar: _withTitles(model.similar(i, k), context.titles),
      });
    },
  },
  {
    method: "GET",
    name: "/v1/training",
    pattern: /^\/v1\/training$/,
    handle(_request, url, _param, context) {
      queryParameters(url.searchParams, []);
      const curve = context.model().training();
      return _json({
        epoch: curve.epoch,
        model: curve.model,
        dataset: curve.dataset,
        protocol: curve.protocol,
        train_epochs: curve.trainEpochs,
        finished: curve.finished,
        history: curve.history,
      });
    },
  },
  {
    method: "GET",
    name: "/healthz",
    pattern: /^\/healthz$/,
    handle(_request, url, _param, context) {
      queryParameters(url.searchParams, []);
      const model = context.model();
      const thread = context.thread === undefined ? {} : { thread: context.thread };
      return _json({ epoch: model.epoch, checkpoint: model.path, ...thread });
    },
  },
  {
    method: "GET",
    name: "/metrics",
    pattern: /^\/metrics$/,
    handle(_request, _url, _param, context) {
      return new Response(context.metrics.format(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    },
  },
  {
    method: "GET",
    name: "/",
    pattern: /^\/$/,
    handle(request, url, _param, context) {
      // The page's own state (the user shown, a new user's items); the page reads it.
      queryParameters(url.searchParams, ["user", "items"]);
      return context.assets.respond("", request)!;
    },
  },
  {
    method: "GET",
    name: "/assets/{file}",
    pattern: /^\/assets\/([^/]+)$/,
    handle(request, url, param, context) {
      queryParameters(url.searchParams, []);
      const response = param === "" ? undefined : context.assets.respond(param, request);
      if (response === undefined) {
        throw new ApiError(
          404,
          `Cannot find /assets/${echoInput(param)}: no such file; expected one of ${
            context.assets.names.join(", ")
          }`,
        );
      }
      return response;
    },
  },
];

/** Answers one request, counting it in the metrics; never throws. */
async function _handle(request: Request, context: _Context): Promise<Response> {
  const start = performance.now();
  let routeName = "unmatched";
  let response: Response;
  try {
    const url = new URL(request.url);
    const matches = _ROUTES.flatMap((route) => {
      const m = url.pathname.match(route.pattern);
      return m === null ? [] : [{ route, param: m[1] ?? "" }];
    });
    if (matches.length === 0) {
      throw new ApiError(404, `Cannot find ${echoInput(url.pathname)}: no such route`);
    }
    const match = matches.find(({ route }) => route.method === request.method);
    routeName = matches[0].route.name;
    if (match === undefined) {
      const allow = matches.map(({ route }) => route.method).join(", ");
      response = _error(
        405,
        `Cannot ${request.method} ${echoInput(url.pathname)}: expected ${allow}`,
        { allow },
      );
    } else {
      let param: string;
      try {
        param = decodeURIComponent(match.param);
      } catch {
        throw new ApiError(400, `Cannot read ${echoInput(url.pathname)}: bad percent-encoding`);
      }
      response = await match.route.handle(request, url, param, context);
    }
  } catch (e) {
    if (e instanceof ApiError) {
      response = _error(e.status, e.message);
    } else {
      context.warn(
        `Cannot answer ${request.method} ${request.url}: ${e instanceof Error ? e.message : e}`,
      );
      response = _error(500, "Cannot answer the request: the server failed; see its log");
    }
  }
  context.metrics.observe(routeName, response.status, (performance.now() - start) / 1000);
  return response;
}

/** The dense id of a user, or a 404. */
function _user(model: ServedModel, id: RawId): number {
  const u = model.findUser(id);
  if (u < 0) {
    throw new ApiError(
      404,
      `Cannot find user ${echoInput(String(id))}: no such user in the model's data`,
    );
  }
  return u;
}

/** The dense id of an item, or a 404. */
function _item(model: ServedModel, id: RawId): number {
  const i = model.findItem(id);
  if (i < 0) {
    throw new ApiError(
      404,
      `Cannot find item ${echoInput(String(id))}: no such item in the model's data`,
    );
  }
  return i;
}

/** Dense item `i` as JSON: its id, and its title where known. */
function _itemJson(
  model: ServedModel,
  i: number,
  titles: ItemTitles | undefined,
): { item: RawId; title?: string } {
  const item = model.itemId(i);
  const title = titles?.get(String(item));
  return title === undefined ? { item } : { item, title };
}

/** The `offset` (default 0) and `limit` (1..{@linkcode MAX_K}, default 20) of a search. */
function _page(query: Map<string, string>): { offset: number; limit: number } {
  return {
    offset: _integer("offset", query.get("offset"), 0, Number.MAX_SAFE_INTEGER, 0),
    limit: _integer("limit", query.get("limit"), 1, MAX_K, 20),
  };
}

/** An integer query parameter in `min..max`, or `fallback` when absent; else a 400. */
function _integer(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    const expected = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}..${max}`;
    throw new ApiError(
      400,
      `Cannot use ${name} = ${echoInput(JSON.stringify(value))}: expected an integer ${expected}`,
    );
  }
  return n;
}

/** A client's text as an error message echoes it: at most 100 characters (as api_request.ts cuts them). */
/** Recommended items as JSON, with their titles where known. */
function _withTitles(
  items: Recommendation[],
  titles: ItemTitles | undefined,
): ReturnType<typeof recommendationJson>["recommendations"] {
  return recommendationJson({ user: "", recommendations: items }, { titles }).recommendations;
}

function _json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

function _error(status: number, message: string, headers: Record<string, string> = {}): Response {
  return _json({ error: message }, status, headers);
}
