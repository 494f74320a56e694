import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { tempDataDir } from './gateway-process';

export const SITE_TEMPLATE = resolve(__dirname, '../../deploy/nginx/gateway.conf');

/** Debian's nginx (scripts/test-prep.sh installs it when missing). */
export function findNginx(): string | undefined {
  return ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);
}

/** The variable list of the `envsubst '${A} ${B}'` command the template documents. */
export function documentedEnvsubstList(template: string): string[] {
  const m = /envsubst '([^']+)'/.exec(template);
  if (!m) throw new Error('the template documents no envsubst variable list');
  return [...m[1].matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((v) => v[1]);
}

/**
 * What `envsubst '<list>'` does: replaces `${NAME}` and `$NAME` for the listed names only, leaving every
 * other `$` (nginx's own variables) as it is; a listed name without a value becomes empty.
 */
export function envsubst(template: string, names: string[], values: Record<string, string>): string {
  let out = template;
  for (const name of names) {
    out = out.replace(
      new RegExp(`\\$(\\{${name}\\}|${name}(?![A-Za-z0-9_]))`, 'g'),
      () => values[name] ?? '',
    );
  }
  return out;
}

export async function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        res(true);
      }).on('error', () => res(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface EdgeProxy {
  port: number;
  dir: string;
  /** The rendered site file, as nginx runs it. */
  site: string;
  /** `nginx -t` on the rendered configuration: exit status and output. */
  check(): { status: number | null; output: string };
  stop(): void;
}

/**
 * Renders deploy/nginx/gateway.conf with its documented envsubst list (the gateway at `upstream`, a
 * fresh self-signed certificate), lets `edit` change the rendered site (shard upstreams, the map), and
 * starts nginx with it in a temporary prefix. Call check() for `nginx -t`.
 */
export async function startEdgeProxy(
  nginx: string,
  upstream: string,
  edit: (site: string) => string = (s) => s,
): Promise<EdgeProxy> {
  const dir = tempDataDir('dim-nginx-');
  mkdirSync(join(dir, 'logs'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'].concat([
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]),
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const template = readFileSync(SITE_TEMPLATE, 'utf8');
  const site = edit(
    envsubst(template, documentedEnvsubstList(template), {
      GATEWAY_UPSTREAM: upstream,
      LISTEN: `127.0.0.1:${port}`,
      SERVER_NAME: 'localhost',
      TLS_CERT: join(dir, 'cert.pem'),
      TLS_KEY: join(dir, 'key.pem'),
    }),
  );
  writeFileSync(join(dir, 'gateway.conf'), site);
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  include ${dir}/gateway.conf;
}
`,
  );
  const check = () => {
    const r = spawnSync(nginx, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  };
  const tested = check();
  if (tested.status !== 0) throw new Error(`nginx -t failed:\n${tested.output}`);
  const proc: ChildProcess = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
  try {
    await waitForPort(port, 5000);
  } catch (err) {
    proc.kill('SIGTERM');
    throw err;
  }
  return { port, dir, site, check, stop: () => proc.kill('SIGTERM') };
}

/** GET over TLS to the edge on loopback (self-signed certificate accepted). */
export function edgeGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((res, rej) =>
    httpsGet(`https://127.0.0.1:${port}${path}`, { rejectUnauthorized: false, headers }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body }));
    }).on('error', rej),
  );
}
