/**
 * The files of the page `ncf serve` answers at `/`: `index.html`, and the
 * scripts, styles and licence under `/assets/`. They live in
 * `lib/serve/page/` (uPlot's browser build vendored in `page/vendor/`) and
 * are read once, relative to this module, so they come from the source tree
 * under `deno run` and from the binary under `deno compile --include
 * lib/serve/page/`. Nothing is fetched from elsewhere: the page works
 * offline.
 *
 * Only the files listed in {@linkcode PAGE_FILES} are served, by exact
 * name, so no path reaches outside the folder. Each answer carries a strong
 * `ETag` (a hash of the bytes) with `cache-control: no-cache`: a browser
 * keeps its copy and revalidates it, a 304 while it is unchanged.
 *
 * @module
 */

/** One file of the page. */
export interface PageFile {
  /** Its name under `/assets/` ("" for the page itself, served at `/`). */
  name: string;
  /** Its path under `lib/serve/page/`. */
  path: string;
  /** Its `content-type`. */
  contentType: string;
}

/** The files served: the page at `/`, the rest under `/assets/<name>`. */
export const PAGE_FILES: readonly PageFile[] = [
  { name: "", path: "index.html", contentType: "text/html; charset=utf-8" },
  { name: "app.js", path: "app.js", contentType: "text/javascript; charset=utf-8" },
  { name: "style.css", path: "style.css", contentType: "text/css; charset=utf-8" },
  {
    name: "uPlot.iife.min.js",
    path: "vendor/uPlot.iife.min.js",
    contentType: "text/javascript; charset=utf-8",
  },
  { name: "uPlot.min.css", path: "vendor/uPlot.min.css", contentType: "text/css; charset=utf-8" },
  {
    name: "uPlot.LICENSE.txt",
    path: "vendor/uPlot.LICENSE",
    contentType: "text/plain; charset=utf-8",
  },
];

/** The folder of the page's files. */
export const PAGE_DIR: URL = new URL("./page/", import.meta.url);

/**
 * What the page may load: its own files and API only (no inline script, no
 * other origin).
 */
const _PAGE_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** One loaded file. */
interface _Loaded {
  body: Uint8Array<ArrayBuffer>;
  headers: Record<string, string>;
  etag: string;
}

/**
 * The page's files, loaded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PageAssets } from "./page_assets.ts";
 * const assets = await PageAssets.load();
 * const page = assets.respond("", new Request("http://localhost/"))!;
 * assert.equal(page.status, 200);
 * assert.match(page.headers.get("content-type")!, /^text\/html/);
 * await page.body?.cancel();
 * assert.equal(assets.respond("../server.ts", new Request("http://localhost/")), undefined);
 * ```
 */
export class PageAssets {
  readonly #files: Map<string, _Loaded>;

  private constructor(files: Map<string, _Loaded>) {
    this.#files = files;
  }

  /**
   * Reads every file of {@linkcode PAGE_FILES} from `dir` (default
   * {@linkcode PAGE_DIR}).
   * @throws {Deno.errors.NotFound} naming the missing file (a binary
   *   compiled without `--include lib/serve/page/`).
   */
  static async load(dir: URL = PAGE_DIR): Promise<PageAssets> {
    const files = new Map<string, _Loaded>();
    await Promise.all(PAGE_FILES.map(async (file) => {
      const url = new URL(file.path, dir);
      let body: Uint8Array<ArrayBuffer>;
      try {
        body = await Deno.readFile(url);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        throw new Deno.errors.NotFound(
          `Cannot load the page's file ${url.pathname}: it is missing; ` +
            "a compiled binary needs --include lib/serve/page/",
        );
      }
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
      const etag = `"${
        Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("")
      }"`;
      const headers: Record<string, string> = {
        "content-type": file.contentType,
        "cache-control": "no-cache",
        etag,
        "x-content-type-options": "nosniff",
      };
      if (file.name === "") {
        headers["content-security-policy"] = _PAGE_POLICY;
        headers["referrer-policy"] = "no-referrer";
      }
      files.set(file.name, { body, headers, etag });
    }));
    return new PageAssets(files);
  }

  /** The names served under `/assets/`. */
  get names(): string[] {
    return PAGE_FILES.map((file) => file.name).filter((name) => name !== "");
  }

  /**
   * The answer for file `name` ("" for the page): 200 with its bytes, or
   * 304 when the request's `If-None-Match` holds its ETag; undefined for a
   * name not served.
   */
  respond(name: string, request: Request): Response | undefined {
    const file = this.#files.get(name);
    if (file === undefined) return undefined;
    const match = request.headers.get("if-none-match");
    if (match !== null && match.split(",").some((tag) => tag.trim() === file.etag)) {
      return new Response(null, {
        status: 304,
        headers: { etag: file.etag, "cache-control": "no-cache" },
      });
    }
    return new Response(file.body, { headers: file.headers });
  }
}
