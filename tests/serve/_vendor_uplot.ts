/**
 * Copies uPlot's browser build from its npm package (the version deno.json
 * pins) into lib/serve/page/vendor/, where `ncf serve` reads it. Run it after
 * changing the pinned version:
 *
 *     deno run --allow-read --allow-write=lib/serve/page/vendor tests/serve/_vendor_uplot.ts
 *
 * tests/serve/page_assets_test.ts checks the copies still equal the
 * package's files.
 */

/** Each vendored file: its specifier in the npm package, and its name in the vendor folder. */
export const VENDORED_FILES: readonly { from: string; to: string }[] = [
  { from: "uplot/dist/uPlot.iife.min.js", to: "uPlot.iife.min.js" },
  { from: "uplot/dist/uPlot.min.css", to: "uPlot.min.css" },
  { from: "uplot/LICENSE", to: "uPlot.LICENSE" },
];

/** The vendor folder. */
export const VENDOR_DIR = new URL("../../lib/serve/page/vendor/", import.meta.url);

/** The URL of `specifier`'s file in the npm package. */
export function packageFile(specifier: string): URL {
  return new URL(import.meta.resolve(specifier));
}

if (import.meta.main) {
  await Deno.mkdir(VENDOR_DIR, { recursive: true });
  for (const { from, to } of VENDORED_FILES) {
    await Deno.copyFile(packageFile(from), new URL(to, VENDOR_DIR));
    console.log(`${from} -> ${new URL(to, VENDOR_DIR).pathname}`);
  }
}
