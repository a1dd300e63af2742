import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

export const STATIC_DIR = new URL('../static/', import.meta.url).pathname;

export interface StaticAsset {
  /** `/static/style.3f2a9c1e.css`: the name changes with the content, so it can be cached forever. */
  url: string;
  body: Buffer;
  contentType: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
};

/**
 * Reads app/static once and names each file by its content hash. nginx serves the same files
 * (stripping the hash, h5bp's filename-based cache busting); the app only needs the names, and
 * serves the bytes itself when it runs alone.
 */
export function loadStaticAssets(dir: string = STATIC_DIR): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const extension = extname(entry.name);
    const contentType = CONTENT_TYPES[extension];
    if (contentType === undefined) continue;
    const body = readFileSync(join(dir, entry.name));
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 8);
    const url = `/static/${entry.name.slice(0, -extension.length)}.${hash}${extension}`;
    assets.set(entry.name, { url, body, contentType });
  }
  return assets;
}

export function assetUrl(assets: ReadonlyMap<string, StaticAsset>, file: string): string {
  const asset = assets.get(file);
  if (asset === undefined) throw new Error(`static asset ${file} is missing from ${STATIC_DIR}`);
  return asset.url;
}
