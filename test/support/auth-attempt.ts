import { DiminuendoClient, ProtocolError } from '@app/client';

export interface AuthAttempt {
  ok: boolean;
  code?: string;
  retryAfterMs?: number;
}

/** One `authenticate` on a fresh connection from `localAddress`: accepted, or the error it got. */
export async function attemptAuth(url: string, token: string, localAddress: string): Promise<AuthAttempt> {
  const c = await DiminuendoClient.connect(url, { authenticate: false, localAddress });
  try {
    const res = await c.request({ type: 'authenticate', token });
    return { ok: res.type === 'authenticated' };
  } catch (err) {
    if (err instanceof ProtocolError)
      return { ok: false, code: err.code, retryAfterMs: err.event.retryAfterMs };
    throw err;
  } finally {
    await c.close();
  }
}
