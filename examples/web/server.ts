/**
 * A small read-only static server for the example page and the browser tests (plain node:http,
 * no dev server). It serves the repository root (dist/, node_modules/, examples/web/), the data
 * directory under /data/, and ESM wrappers for the two CommonJS dependencies of dist/web.js under
 * /vendor/ (an import map cannot load CommonJS). Run: npx tsx examples/web/server.ts [port]
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Same rule as the tests: ../shared/data beside the repository, or SALIP_DATA_DIR. */
export const DEFAULT_DATA_DIR = process.env.SALIP_DATA_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'data');

const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.nii': 'application/octet-stream',
  '.gz': 'application/gzip',
};

/**
 * Packages served as one-file ESM bundles at /vendor/<name>.js: the CommonJS dependencies of
 * dist/web.js, and those of dist/dicom.js (dcmjs's ESM build has many bare imports of its own;
 * dicom-parser and the codecs' asm.js builds are CommonJS/UMD).
 */
const COMMONJS_PACKAGES = new Set(['jpeg-js', 'onnx-proto', 'dicom-parser', 'dcmjs', '@cornerstonejs/codec-charls/decode', '@cornerstonejs/codec-openjpeg/decode']);

/** dicom-parser's UMD build requires node:zlib for deflated files; salip inflates them itself. */
const EMPTY_NODE_BUILTINS = {
  name: 'empty-node-builtins',
  setup(build: { onResolve: Function; onLoad: Function }) {
    build.onResolve({ filter: /^(zlib|fs|path)$/ }, (args: { path: string }) => ({ path: args.path, namespace: 'empty-builtin' }));
    build.onLoad({ filter: /.*/, namespace: 'empty-builtin' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

export interface ExampleServerOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1 (never exposed beyond this machine). */
  host?: string;
  /** Directory served under /data/ (default DEFAULT_DATA_DIR). */
  dataDir?: string;
  /**
   * Send COOP/COEP headers so the page is cross-origin isolated (SharedArrayBuffer, so
   * onnxruntime-web may use several wasm threads). Default true.
   */
  crossOriginIsolated?: boolean;
}

export interface ExampleServer {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  close(): Promise<void>;
}

/** Resolves a URL path under `root`, or undefined when it escapes root or names a dotfile. */
function safePath(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.split('/').some((part) => part.startsWith('.') && part.length > 0)) return undefined;
  const full = resolve(root, '.' + decoded);
  return full === root || full.startsWith(root + sep) ? full : undefined;
}

const vendorCache = new Map<string, Promise<string>>();

/** Bundles a CommonJS package to one ESM file with its top-level keys as named exports. */
function commonJsAsEsm(name: string): Promise<string> {
  let cached = vendorCache.get(name);
  if (!cached) {
    cached = (async () => {
      const required = createRequire(pathToFileURL(resolve(REPO_ROOT, 'package.json')))(name) as Record<string, unknown>;
      const names = Object.keys(required).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default');
      const entry = `import m from ${JSON.stringify(name)};\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`;
      // esbuild comes with tsup (a devDependency); only this development server needs it.
      const esbuild = await import('esbuild');
      const result = await esbuild.build({
        stdin: { contents: entry, resolveDir: REPO_ROOT, sourcefile: `vendor-${name}.js`, loader: 'js' },
        bundle: true,
        format: 'esm',
        platform: 'browser',
        write: false,
        logLevel: 'silent',
        plugins: [EMPTY_NODE_BUILTINS as never],
      });
      return result.outputFiles[0].text;
    })();
    cached.catch(() => vendorCache.delete(name));
    vendorCache.set(name, cached);
  }
  return cached;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: string): void {
  let stats;
  try {
    stats = statSync(file);
    if (stats.isDirectory()) {
      file = resolve(file, 'index.html');
      stats = statSync(file);
    }
  } catch {
    send(res, 404, `not found: ${req.url}\n`);
    return;
  }
  if (!stats.isFile()) {
    send(res, 404, `not found: ${req.url}\n`);
    return;
  }
  res.writeHead(200, {
    'Content-Type': MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': stats.size,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

async function handle(req: IncomingMessage, res: ServerResponse, dataDir: string, isolated: boolean): Promise<void> {
  // Models and data change rarely, but a stale dist/web.js after a rebuild would confuse.
  res.setHeader('Cache-Control', 'no-cache');
  if (isolated) {
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'read-only server: only GET and HEAD\n');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/') {
    res.writeHead(302, { Location: '/examples/web/' });
    res.end();
    return;
  }
  const vendor = /^\/vendor\/(.+)\.js$/.exec(path);
  if (vendor) {
    if (!COMMONJS_PACKAGES.has(vendor[1])) {
      send(res, 404, `no vendor wrapper for "${vendor[1]}" (known: ${[...COMMONJS_PACKAGES].join(', ')})\n`);
      return;
    }
    send(res, 200, await commonJsAsEsm(vendor[1]), MIME_TYPES['.js']);
    return;
  }
  const underData = path === '/data' || path.startsWith('/data/');
  const file = underData ? safePath(dataDir, path.slice('/data'.length) || '/') : safePath(REPO_ROOT, path);
  if (!file) {
    send(res, 403, `forbidden: ${path}\n`);
    return;
  }
  sendFile(req, res, file);
}

/** Starts the server on 127.0.0.1 (ephemeral port by default). */
export async function startExampleServer(options: ExampleServerOptions = {}): Promise<ExampleServer> {
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const isolated = options.crossOriginIsolated ?? true;
  const server = createServer((req, res) => {
    handle(req, res, dataDir, isolated).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, `server error: ${error instanceof Error ? error.message : String(error)}\n`);
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
  if (!existsSync(resolve(REPO_ROOT, 'dist', 'web.js'))) console.warn('dist/web.js is missing: run `npm run build` first');
  startExampleServer({ port }).then(
    (server) => console.log(`salip example page: ${server.url}/examples/web/  (data: ${DEFAULT_DATA_DIR} at /data/)`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
