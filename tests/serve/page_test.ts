/// <reference lib="dom" />
/**
 * The page of `ncf serve` in a real headless Chromium (Debian's `chromium`,
 * driven by puppeteer-core): a small ml-100k model trained by the real CLI,
 * served by the real CLI, looked at while the trainer adds an epoch. Saves a
 * screenshot to tests/serve/_artifacts/page.png.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { type CliProcess, ROOT, runCli, startCli } from "../cli/_process.ts";

const CHROMIUM = "/usr/bin/chromium";
const ML100K = join(ROOT, "../shared/datasets/ml-100k");
const SCREENSHOT = fileURLToPath(new URL("./_artifacts/page.png", import.meta.url));

function _isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const skip = !_isFile(CHROMIUM)
  ? `${CHROMIUM} is absent (apt-get install chromium)`
  : !_isFile(join(ML100K, "u.data"))
  ? `${ML100K}/u.data is absent`
  : undefined;
if (skip !== undefined) console.log(`Skipping the page test: ${skip}`);

/** `ncf trainer` flags of the small ml-100k run (seconds per epoch). */
function trainerArgs(root: string, epochs: number): string[] {
  return [
    "trainer",
    "--dataset=ml-100k",
    `--data_dir=${ML100K}`,
    "--num_eval_negatives=99",
    "--seed=1",
    `--train_epochs=${epochs}`,
    `--cache_dir=${join(root, "cache")}`,
    `--model_dir=${join(root, "model")}`,
  ];
}

/** The items (ids as text) of the rows of table `selector`, in order. */
function rowItems(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(
    `${selector} tbody tr`,
    (rows) => rows.map((row) => (row as HTMLElement).dataset.item ?? ""),
  );
}

/** The JSON answer of `path` on the server. */
async function getJson(url: string, path: string, init?: RequestInit) {
  const response = await fetch(new URL(path, url), init);
  assert.equal(response.status, 200, path);
  return await response.json();
}

Deno.test({
  name: "the page in Chromium shows live curves, a user's top 10 and a new user's, from its URL",
  ignore: skip !== undefined,
  async fn(t) {
    const root = await Deno.makeTempDir({ prefix: "ncf_page_test_" });
    let server: CliProcess | undefined;
    let browser: Browser | undefined;
    try {
      const trained = await runCli(trainerArgs(root, 2));
      assert.equal(trained.code, 0, trained.stderr);
      server = startCli(["serve", `--model_dir=${join(root, "model")}`, "--port=0"]);
      const [, url] = await server.waitForLine(/^listening on (http:\/\/\S+\/)$/, 60_000);
      browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
      });
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => errors.push(`page: ${error}`));
      page.on("requestfailed", (request) => errors.push(`request failed: ${request.url()}`));
      await page.setViewport({ width: 1280, height: 1000 });
      await page.goto(new URL("/?user=196", url).href, { waitUntil: "load" });

      await t.step("/?user=196 shows the API's top 10 for user 196, in order", async () => {
        await page.waitForFunction(
          () => document.querySelectorAll("#user-recs tbody tr").length === 10,
          { timeout: 20_000 },
        );
        const api = await getJson(url, "/v1/users/196/recommendations?k=10");
        const items = api.recommendations.map((r: { item: number }) => String(r.item));
        assert.deepEqual(await rowItems(page, "#user-recs"), items);
        const titles = await page.$$eval(
          "#user-recs tbody tr td:nth-child(3)",
          (cells) => cells.map((c) => c.textContent),
        );
        assert.deepEqual(titles, api.recommendations.map((r: { title: string }) => r.title));
        assert.match(titles[0]!, /\(\d{4}\)$/, "ml-100k titles, found through the run's flags");
      });

      await t.step(
        "the user's history lists their training items and the held-out one",
        async () => {
          const detail = await getJson(url, "/v1/users/196");
          const expected = [detail.held_out, ...detail.items].map((i: { item: number }) =>
            String(i.item)
          );
          await page.waitForFunction(
            (n) => document.querySelectorAll("#user-history tbody tr").length === n,
            { timeout: 10_000 },
            expected.length,
          );
          assert.deepEqual(await rowItems(page, "#user-history"), expected);
          assert.equal(await page.$$eval("#user-history tr.held-out", (rows) => rows.length), 1);
        },
      );

      await t.step(
        "the chart has one point per epoch, and gains one when the trainer adds an epoch",
        async () => {
          await page.waitForFunction(
            () => document.getElementById("curves")?.dataset.points === "2",
            { timeout: 20_000 },
          );
          assert.equal(await page.$$eval("#curves canvas", (c) => c.length), 1, "uPlot drew");
          const resumed = await runCli([...trainerArgs(root, 3), "--resume"]);
          assert.equal(resumed.code, 0, resumed.stderr);
          await page.waitForFunction(
            () => document.getElementById("curves")?.dataset.points === "3",
            { timeout: 20_000 },
          );
          const training = await getJson(url, "/v1/training");
          assert.deepEqual(training.history.map((r: { epoch: number }) => r.epoch), [1, 2, 3]);
          assert.equal(await page.$$eval("#curves-table tbody tr", (rows) => rows.length), 3);
          assert.equal(
            await page.$eval(".u-legend .u-series:first-child .u-value", (el) => el.textContent),
            "3 (last)",
            "uPlot's legend shows the last epoch drawn",
          );
          assert.match(
            await page.$eval("#model-line", (el) => el.textContent ?? ""),
            /NeuMF on ml-100k · epoch 3 of 3 served/,
          );
        },
      );

      await t.step(
        "the new-user panel finds items, picks two and shows the fold-in's top 10",
        async () => {
          for (const [query, item] of [["star wars", "50"], ["jedi", "181"]]) {
            await page.$eval("#item-search", (el) => (el as HTMLInputElement).value = "");
            await page.type("#item-search", query);
            await page.waitForFunction(
              (text, id) => {
                const found = [...document.querySelectorAll<HTMLElement>("#item-results li")];
                return found.some((li) => li.dataset.item === id) &&
                  found.every((li) => li.textContent!.toLowerCase().includes(text));
              },
              { timeout: 10_000 },
              query,
              item,
            );
            await page.click(`#item-results li[data-item="${item}"] button`);
          }
          assert.equal(
            await page.$eval('#item-results li[data-item="181"] button', (b) => b.textContent),
            "Added",
          );
          assert.deepEqual(
            await page.$$eval("#picked li", (li) => li.map((l) => (l as HTMLElement).dataset.item)),
            ["50", "181"],
          );
          await page.click("#recommend");
          await page.waitForFunction(
            () => document.querySelectorAll("#new-user-recs tbody tr").length === 10,
            { timeout: 20_000 },
          );
          const api = await getJson(url, "/v1/recommendations", {
            method: "POST",
            body: JSON.stringify({ items: [50, 181], k: 10 }),
          });
          assert.deepEqual(
            await rowItems(page, "#new-user-recs"),
            api.recommendations.map((r: { item: number }) => String(r.item)),
          );
          assert.equal(await page.evaluate(() => location.search), "?user=196&items=50,181");
        },
      );

      await t.step("another user goes into the URL, which reopens the same view", async () => {
        await page.$eval("#user-input", (el) => (el as HTMLInputElement).value = "");
        await page.type("#user-input", "186");
        await page.click("#user-form button[type=submit]");
        await page.waitForFunction(() => location.search === "?user=186&items=50,181", {
          timeout: 10_000,
        });
        const api = await getJson(url, "/v1/users/186/recommendations?k=10");
        const items = api.recommendations.map((r: { item: number }) => String(r.item));
        await page.waitForFunction(
          (first) =>
            (document.querySelector("#user-recs tbody tr") as HTMLElement | null)?.dataset.item ===
              first,
          { timeout: 10_000 },
          items[0],
        );
        assert.deepEqual(await rowItems(page, "#user-recs"), items);
        await Deno.mkdir(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        console.log(`screenshot: ${SCREENSHOT}`);

        const linked = await browser!.newPage();
        try {
          await linked.goto(new URL("/?user=186&items=50,181", url).href, { waitUntil: "load" });
          await linked.waitForFunction(
            () =>
              document.querySelectorAll("#user-recs tbody tr").length === 10 &&
              document.querySelectorAll("#new-user-recs tbody tr").length === 10,
            { timeout: 20_000 },
          );
          assert.deepEqual(await rowItems(linked, "#user-recs"), items);
          assert.deepEqual(
            await rowItems(linked, "#new-user-recs"),
            await rowItems(page, "#new-user-recs"),
          );
        } finally {
          await linked.close();
        }
      });

      await t.step("nothing went to the console as an error", () => {
        assert.deepEqual(errors, []);
      });

      await t.step("an unknown user shows the API's message", async () => {
        await page.$eval("#user-input", (el) => (el as HTMLInputElement).value = "");
        await page.type("#user-input", "99999");
        await page.click("#user-form button[type=submit]");
        await page.waitForSelector("#user-error:not([hidden])", { timeout: 10_000 });
        assert.match(
          await page.$eval("#user-error", (el) => el.textContent ?? ""),
          /Cannot find user 99999: no such user/,
        );
        assert.equal(await page.$$eval("#user-recs tbody tr", (rows) => rows.length), 0);
        assert.deepEqual(errors.filter((e) => !/404/.test(e)), [], "only the 404s asked for");
      });
    } finally {
      await browser?.close();
      if (server !== undefined) {
        server.child.kill("SIGTERM");
        await server.status;
      }
      await Deno.remove(root, { recursive: true });
    }
  },
});
