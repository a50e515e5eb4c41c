/**
 * The web UI's files: plain HTML, CSS and ES modules in ./static, shipped as they are (the build
 * copies the folder next to the compiled code, so the same URL resolves from src/ under tsx and
 * from dist/). Read once, on the first request, and kept in memory: a handful of small files.
 */
import { readFile, readdir } from 'node:fs/promises';
import { extname } from 'node:path';

export interface UiAsset {
  contentType: string;
  body: Buffer;
}

const STATIC_DIR = new URL('./static/', import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * No inline script or style and nothing from another origin; the page talks only to the
 * registry that served it.
 */
export const UI_CONTENT_SECURITY_POLICY =
  "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/** Headers every UI answer carries. The HTML is never cached, so a new version shows at once. */
export function uiHeaders(asset: UiAsset, name: string): Record<string, string> {
  return {
    'content-type': asset.contentType,
    'content-security-policy': UI_CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': name === 'index.html' ? 'no-store' : 'no-cache',
  };
}

/** File name under /ui/ → asset. Only files in the static folder, by exact name. */
export async function loadUiAssets(dir: URL = STATIC_DIR): Promise<Map<string, UiAsset>> {
  const assets = new Map<string, UiAsset>();
  for (const name of await readdir(dir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType === undefined) continue;
    assets.set(name, { contentType, body: await readFile(new URL(name, dir)) });
  }
  return assets;
}
