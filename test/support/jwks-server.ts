import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';

export interface TestKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function newKey(kid: string = randomUUID()): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicKey };
}

/**
 * A real JWKS endpoint on loopback, serving RS256 keys this test generated, counting how often it is
 * fetched. `issuer` is `${url}/` as Auth0 issues it.
 */
export class JwksServer {
  keys: TestKey[] = [newKey()];
  fetches = 0;
  private server?: Server;
  url = '';

  get issuer(): string {
    return `${this.url}/`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      if (req.url === '/.well-known/jwks.json') {
        this.fetches++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: this.keys.map(toJwk) }));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }

  /** Signs a token with the first key (or `key`), defaulting to a valid tenant-scoped access token. */
  sign(
    claims: Record<string, unknown> = {},
    options: {
      key?: TestKey;
      audience?: string;
      expiresIn?: number;
      notBefore?: number;
      issuer?: string;
    } = {},
  ): string {
    const key = options.key ?? this.keys[0];
    return jwt.sign(
      { sub: 'auth0|user-1', email: 'user@example.com', tenant_id: 'acme', ...claims },
      key.privateKey,
      {
        algorithm: 'RS256',
        keyid: key.kid,
        issuer: options.issuer ?? this.issuer,
        audience: options.audience ?? 'diminuendo-api',
        expiresIn: options.expiresIn ?? 3600,
        ...(options.notBefore !== undefined ? { notBefore: options.notBefore } : {}),
      },
    );
  }
}

function toJwk(key: TestKey) {
  const jwk = key.publicKey.export({ format: 'jwk' });
  return { ...jwk, kid: key.kid, alg: 'RS256', use: 'sig' };
}
