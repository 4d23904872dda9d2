/**
 * The trainer's output paths, checked before any data is loaded: the
 * metrics file, the plot and the model folder. Parent folders are created;
 * a path that cannot be written is refused with a {@linkcode SettingError}
 * naming its setting, so a mistake costs seconds, not an epoch.
 *
 * @module
 */

import { dirname, extname, join } from "node:path";
import { SettingError } from "../errors.ts";
import { CHECKPOINT_FILE } from "./checkpoint_file.ts";

/** The extension `plot` writes (an SVG document). */
export const PLOT_EXTENSION = ".svg";

/** The output settings of a training run. */
export interface OutputSettings {
  /** Appends one JSON object per evaluation. */
  metrics_file?: string | undefined;
  /** The SVG learning curves. */
  plot?: string | undefined;
  /** The checkpoint folder. */
  model_dir?: string | undefined;
  /** Continue the checkpoint in `model_dir`. */
  resume?: boolean | undefined;
  /** Replace the checkpoint in `model_dir`. */
  overwrite?: boolean | undefined;
}

/**
 * Checks (and prepares) every output path of a run. Throws a
 * {@linkcode SettingError} naming the setting when a path cannot be written,
 * when `plot` does not end in `.svg`, or when `model_dir` already holds a
 * checkpoint and neither `resume` nor `overwrite` is set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOutputPaths } from "./output_paths.ts";
 * const dir = await Deno.makeTempDir();
 * await checkOutputPaths({ plot: `${dir}/new/curves.svg`, model_dir: `${dir}/model` });
 * assert.ok((await Deno.stat(`${dir}/new`)).isDirectory);
 * await assert.rejects(checkOutputPaths({ plot: `${dir}/x.png` }), /writes an SVG document/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checkOutputPaths(settings: OutputSettings): Promise<void> {
  if (settings.plot !== undefined) {
    if (extname(settings.plot).toLowerCase() !== PLOT_EXTENSION) {
      throw new SettingError(
        "plot",
        `Cannot draw the plot into ${settings.plot}: it writes an SVG document; name the file *.svg`,
      );
    }
    await _checkFile("plot", settings.plot);
  }
  if (settings.metrics_file !== undefined) await _checkFile("metrics_file", settings.metrics_file);
  if (settings.model_dir !== undefined) await _checkModelDir(settings);
}

async function _checkFile(setting: string, path: string): Promise<void> {
  const info = await _stat(path);
  if (info?.isDirectory) {
    throw new SettingError(setting, `Cannot write ${path}: it is a folder; give a file's path`);
  }
  await _makeFolder(setting, dirname(path), `Cannot write ${path}`);
}

async function _checkModelDir(settings: OutputSettings): Promise<void> {
  const dir = settings.model_dir!;
  const info = await _stat(dir);
  if (info !== undefined && !info.isDirectory) {
    throw new SettingError(
      "model_dir",
      `Cannot keep checkpoints in ${dir}: it is a file, and the model folder must be a folder (it will hold ${CHECKPOINT_FILE})`,
    );
  }
  await _makeFolder("model_dir", dir, `Cannot keep checkpoints in ${dir}`);
  if (settings.resume === true || settings.overwrite === true) return;
  if ((await _stat(join(dir, CHECKPOINT_FILE)))?.isFile) {
    throw new SettingError(
      "model_dir",
      `Cannot train into ${dir}: it already holds a trained model's checkpoint; continue it with --resume, replace it with --overwrite, or choose another folder`,
    );
  }
}

/** Creates `dir` (and its parents) and proves it writable with a temp file. */
async function _makeFolder(setting: string, dir: string, action: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = await Deno.makeTempFile({ dir, prefix: ".ncf_probe_" });
    await Deno.remove(probe);
  } catch (e) {
    const why =
      e instanceof Deno.errors.PermissionDenied || (e as { code?: string }).code === "EROFS"
        ? `the folder ${dir} is not writable`
        : e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.NotADirectory
        ? `a part of ${dir} is a file, not a folder`
        : (e as Error).message;
    throw new SettingError(setting, `${action}: ${why}`, { cause: e });
  }
}

async function _stat(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    if (e instanceof Deno.errors.NotADirectory) return undefined;
    throw e;
  }
}
